using System.Text.Json;
using OrleansCompute.Abstractions;
using OrleansCompute.Abstractions.Market;
using Xunit;

namespace OrleansCompute.Integration.Tests;

/// <summary>Amounts of credits as text and JSON: exact to the unit, and anything else refused, never an overflow.</summary>
public sealed class CreditsParsingTests
{
    [Theory]
    [InlineData("2.4", 2_400_000L)]
    [InlineData("0.000001", 1L)]
    [InlineData("1.0000000", 1_000_000L)]
    [InlineData("-1.5", -1_500_000L)]
    [InlineData("9223372036854.775807", long.MaxValue)]
    [InlineData("-9223372036854.775808", long.MinValue)]
    public void An_amount_within_range_with_at_most_six_decimals_parses_to_the_unit(string text, long units)
    {
        Assert.True(Credits.TryParse(text, out var credits, out var error), error);
        Assert.Equal(Credits.FromUnits(units), credits);
        Assert.Equal(Credits.FromUnits(units), JsonSerializer.Deserialize<Credits>($"\"{text}\"", ApiJson.Options));
    }

    [Theory]
    [InlineData("99999999999999999999999", "out of range")]
    [InlineData("9223372036854.775808", "out of range")]
    [InlineData("-9223372036854.775809", "out of range")]
    [InlineData("99999999999999999999999999999999999", "out of range")]
    [InlineData("2.4000001", "decimals")]
    [InlineData("1e30", "not an amount")]
    [InlineData("two", "not an amount")]
    [InlineData("", "not an amount")]
    [InlineData(".", "not an amount")]
    [InlineData(null, "not an amount")]
    public void An_amount_out_of_range_too_precise_or_malformed_is_refused_with_why(string? text, string why)
    {
        Assert.False(Credits.TryParse(text, out var credits, out var error));
        Assert.Equal(Credits.Zero, credits);
        Assert.Contains(why, error);
        Assert.False(Credits.TryParse(text, out _));
    }

    [Theory]
    [InlineData("\"99999999999999999999999\"")]
    [InlineData("99999999999999999999999")]
    [InlineData("1e300")]
    [InlineData("\"1e30\"")]
    [InlineData("0.0000001")]
    [InlineData("true")]
    [InlineData("{}")]
    public void Json_that_is_no_amount_of_credits_throws_JsonException_naming_the_path(string amount)
    {
        var refused = Assert.Throws<JsonException>(() =>
            JsonSerializer.Deserialize<LeaseRequest>($$"""{"kind":"h100","slots":1,"hours":1,"maxPricePerSlotHour":{{amount}}}""", ApiJson.Options));

        Assert.Equal("$.maxPricePerSlotHour", refused.Path);
    }

    [Fact]
    public void A_json_number_with_at_most_six_decimals_still_reads()
    {
        Assert.Equal(Credits.FromCredits(2.5m), JsonSerializer.Deserialize<Credits>("2.5", ApiJson.Options));
        Assert.Equal(Credits.FromCredits(100m), JsonSerializer.Deserialize<Credits>("1e2", ApiJson.Options));
    }

    [Fact]
    public void Enums_read_by_name_only()
    {
        Assert.Equal(LeaseBillingMode.Tokens, JsonSerializer.Deserialize<LeaseBillingMode>("\"tokens\"", ApiJson.Options));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<LeaseBillingMode>("1", ApiJson.Options));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<LeaseBillingMode>("\"7\"", ApiJson.Options));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<LeaseBillingMode>("\"Bananas\"", ApiJson.Options));
        Assert.Equal("\"Tokens\"", JsonSerializer.Serialize(LeaseBillingMode.Tokens, ApiJson.Options));
    }
}
