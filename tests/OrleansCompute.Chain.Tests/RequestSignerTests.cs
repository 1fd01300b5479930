using System.Text;
using OrleansCompute.Chain.Devnet;
using OrleansCompute.Chain.Signing;
using Xunit;

namespace OrleansCompute.Chain.Tests;

public sealed class RequestSignerTests
{
    private static readonly DevAccount Tenant = DevAccounts.Tenants[1];
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_767_225_600);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("""{"kind":"trn2","slots":2,"hours":1}""");
    private static readonly string BodyHash = RequestSigner.BodySha256Hex(Body);

    [Fact]
    public void A_signed_request_recovers_its_tenant()
    {
        var signed = RequestSigner.Sign(Tenant.PrivateKey, "POST", "/api/leases?dry=false", Now, Body);

        Assert.Equal(Tenant.Address, signed.Tenant);
        Assert.Equal(Now.ToUnixTimeSeconds(), signed.Timestamp);
        Assert.Equal(Tenant.Address, RequestSigner.RecoverSigner("POST", "/api/leases?dry=false", signed.Timestamp, BodyHash, signed.Signature));
    }

    [Fact]
    public void The_method_is_case_insensitive_because_it_is_signed_upper_case()
    {
        var signed = RequestSigner.Sign(Tenant.PrivateKey, "post", "/api/leases", Now, Body);

        Assert.Equal(Tenant.Address, RequestSigner.RecoverSigner("POST", "/api/leases", signed.Timestamp, BodyHash, signed.Signature));
    }

    [Fact]
    public void A_tampered_body_path_method_or_timestamp_does_not_recover_the_tenant()
    {
        var signed = RequestSigner.Sign(Tenant.PrivateKey, "POST", "/api/leases", Now, Body);
        var otherBody = RequestSigner.BodySha256Hex(Encoding.UTF8.GetBytes("""{"kind":"trn2","slots":20,"hours":1}"""));

        Assert.NotEqual(Tenant.Address, RequestSigner.RecoverSigner("POST", "/api/leases", signed.Timestamp, otherBody, signed.Signature));
        Assert.NotEqual(Tenant.Address, RequestSigner.RecoverSigner("POST", "/api/leases/other", signed.Timestamp, BodyHash, signed.Signature));
        Assert.NotEqual(Tenant.Address, RequestSigner.RecoverSigner("PUT", "/api/leases", signed.Timestamp, BodyHash, signed.Signature));
        Assert.NotEqual(Tenant.Address, RequestSigner.RecoverSigner("POST", "/api/leases", signed.Timestamp + 1, BodyHash, signed.Signature));
    }

    [Fact]
    public void A_malformed_signature_recovers_nobody()
    {
        Assert.Null(RequestSigner.RecoverSigner("GET", "/api/leases", 1, BodyHash, "0xdeadbeef"));
        Assert.Null(RequestSigner.RecoverSigner("GET", "/api/leases", 1, BodyHash, "garbage"));
    }

    [Fact]
    public void The_canonical_text_is_the_documented_one()
    {
        Assert.Equal(
            "OrleansCompute request\nGET\n/api/leases?tenant=me\n42\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            RequestSigner.CanonicalText("get", "/api/leases?tenant=me", 42, RequestSigner.BodySha256Hex([])));
    }

    [Fact]
    public void Signatures_interoperate_with_a_wallets_personal_sign()
    {
        var wallet = new Nethereum.Signer.EthereumMessageSigner();
        var text = RequestSigner.CanonicalText("DELETE", "/api/leases/1", Now.ToUnixTimeSeconds(), BodyHash);
        var walletSignature = wallet.EncodeUTF8AndSign(text, new Nethereum.Signer.EthECKey(Tenant.PrivateKey));
        var ours = RequestSigner.Sign(Tenant.PrivateKey, "DELETE", "/api/leases/1", Now, Body);

        Assert.Equal(Tenant.Address, RequestSigner.RecoverSigner("DELETE", "/api/leases/1", Now.ToUnixTimeSeconds(), BodyHash, walletSignature));
        Assert.Equal(Tenant.Address, wallet.EncodeUTF8AndEcRecover(text, ours.Signature));
    }
}
