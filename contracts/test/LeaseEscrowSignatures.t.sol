// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {EscrowFixture} from "./utils/EscrowFixture.sol";

/// @dev Where a voucher is valid: the EIP-712 domain (ERC-5267), the digests, and the compact signature form.
contract LeaseEscrowSignaturesTest is EscrowFixture {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant VOUCHER_TYPEHASH =
        keccak256("Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)");
    bytes32 internal constant SESSION_KEY_TYPEHASH =
        keccak256("SessionKey(address tenant,uint256 leaseId,uint256 channel)");

    function _domainSeparator(uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("OrleansCompute LeaseEscrow"), keccak256("5"), chainId, verifyingContract
            )
        );
    }

    /// @dev The digest as any EIP-712 wallet computes it, independently of the contract.
    function _expectedDigest(
        uint256 leaseId,
        uint256 channel,
        uint256 amount,
        bool isFinal,
        uint256 chainId,
        address verifyingContract
    ) internal pure returns (bytes32) {
        bytes32 structHash = keccak256(abi.encode(VOUCHER_TYPEHASH, leaseId, channel, amount, isFinal));
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(chainId, verifyingContract), structHash));
    }

    function test_eip712Domain_names_the_escrow_on_this_chain() public view {
        (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        ) = escrow.eip712Domain();
        vm.assertEq(uint256(uint8(fields)), 0x0f, "name, version, chainId, verifyingContract");
        vm.assertEq(name, "OrleansCompute LeaseEscrow", "name");
        vm.assertEq(version, "5", "version");
        vm.assertEq(chainId, block.chainid, "chainId");
        vm.assertEq(verifyingContract, address(escrow), "verifyingContract");
        vm.assertEq(salt, bytes32(0), "salt");
        vm.assertEq(extensions.length, 0, "extensions");
    }

    function testFuzz_hashVoucher_is_the_standard_eip712_digest(
        uint256 leaseId,
        uint256 channel,
        uint256 amount,
        bool isFinal
    ) public view {
        vm.assertEq(
            _voucherDigest(leaseId, channel, amount, isFinal),
            _expectedDigest(leaseId, channel, amount, isFinal, block.chainid, address(escrow)),
            "digest"
        );
    }

    function testFuzz_hashSessionKey_is_the_standard_eip712_digest(
        address leaseTenant,
        uint256 leaseId,
        uint256 channel
    ) public view {
        bytes32 structHash = keccak256(abi.encode(SESSION_KEY_TYPEHASH, leaseTenant, leaseId, channel));
        vm.assertEq(
            escrow.hashSessionKey(leaseTenant, leaseId, channel),
            keccak256(abi.encodePacked("\x19\x01", _domainSeparator(block.chainid, address(escrow)), structHash)),
            "digest"
        );
    }

    function test_a_voucher_signed_for_another_chain_pays_nothing() public {
        _open(LEASE);
        (bytes32 r, bytes32 vs) = _signCompact(TENANT_KEY, _expectedDigest(LEASE, 0, 1e6, false, 1, address(escrow)));
        vm.expectRevert();
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, r, vs);
        vm.assertEq(_paid(LEASE), 0, "nothing paid");
    }

    function test_a_voucher_signed_for_another_escrow_pays_nothing() public {
        LeaseEscrow other = new LeaseEscrow(IERC20(address(credit)), address(this), 0, 1);
        _open(LEASE);
        (bytes32 r, bytes32 vs) =
            _signCompact(TENANT_KEY, _expectedDigest(LEASE, 0, 1e6, false, block.chainid, address(other)));
        vm.expectRevert();
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, r, vs);
        vm.assertEq(_paid(LEASE), 0, "nothing paid");
    }

    function test_the_domain_follows_a_chain_id_change() public {
        _open(LEASE);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1e6, false);
        vm.chainId(block.chainid + 1);
        vm.expectRevert();
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, r, vs);
        vm.assertEq(_paid(LEASE), 0, "the old chain's voucher does not pay on the fork");
    }

    function test_compact_signatures_carry_v_in_the_top_bit_of_vs() public {
        // Vouchers for rising amounts until one signature with v = 27 and one with v = 28 have both settled.
        _open(LEASE);
        bool[2] memory seen;
        for (uint256 amount = 1; !(seen[0] && seen[1]); ++amount) {
            (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, amount, false);
            uint256 v = uint256(vs) >> 255;
            if (seen[v]) continue;
            seen[v] = true;
            escrow.settle(LEASE, _channel(tenant, LEASE), amount, false, r, vs);
            vm.assertEq(_paid(LEASE), amount, "settled");
        }
    }

    function test_flipping_the_v_bit_pays_nothing() public {
        _open(LEASE);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1e6, false);
        vm.expectRevert();
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, r, bytes32(uint256(vs) ^ (1 << 255)));
        vm.assertEq(_paid(LEASE), 0, "nothing paid");
    }

    function test_s_above_half_the_curve_order_reverts_BadSignature() public {
        _open(LEASE);
        (bytes32 r,) = _signVoucher(TENANT_KEY, LEASE, 1e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadSignature.selector, LEASE));
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, r, bytes32(SECP256K1_N / 2 + 1));
    }

    function testFuzz_vouchers_count_only_when_signed_by_the_lease_signer(uint256 key, uint256 amount, bool viaSession)
        public
    {
        key = bound(key, 1, SECP256K1_N - 1);
        amount = bound(amount, 1, DEPOSIT);
        uint256 signerKey = viaSession ? SESSION_KEY : TENANT_KEY;
        address signer = vm.addr(signerKey);
        if (viaSession) _openWithSessionKey(LEASE, tenant, SESSION_KEY);
        else _open(LEASE);
        escrow.settleBatch(_item(key, LEASE, amount, false));
        (,, uint256 paid,) = _lease(signer, LEASE);
        vm.assertEq(paid, key == signerKey ? amount : 0, "paid only for the signer's voucher");
        _assertConservation();
    }

    function test_a_voucher_pointed_at_another_channel_pays_nothing() public {
        _open(LEASE); // channel 0
        _open(LEASE + 1); // channel 1
        // Signed for channel 0, submitted as channel 1: the digest differs, so it recovers someone else.
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1e6, false);
        vm.expectRevert();
        escrow.settle(LEASE, 1, 1e6, false, r, vs);
        escrow.settleBatch(_itemOn(LEASE, 1, 1e6, false, r, vs));
        vm.assertEq(_paid(LEASE) + _paid(LEASE + 1), 0, "nothing paid on either channel");
    }

    function testFuzz_vouchers_count_only_on_their_own_channel(uint256 channel, uint256 amount) public {
        channel = bound(channel, 0, 1_000);
        amount = bound(amount, 1, DEPOSIT);
        _openOn(LEASE, channel, tenant, provider, DEPOSIT, _expiry());
        uint256 other = channel == 0 ? 1 : channel - 1;
        _openOn(LEASE, other, tenant, provider, DEPOSIT, _expiry());
        (bytes32 r, bytes32 vs) = _signCompact(TENANT_KEY, _voucherDigest(LEASE, channel, amount, false));
        escrow.settleBatch(
            bytes.concat(_itemOn(LEASE, other, amount, false, r, vs), _itemOn(LEASE, channel, amount, false, r, vs))
        );
        (,,, uint256 paid,,) = escrow.lease(tenant, channel, LEASE);
        (,,, uint256 paidOther,,) = escrow.lease(tenant, other, LEASE);
        vm.assertEq(paid, amount, "paid on the signed channel");
        vm.assertEq(paidOther, 0, "nothing on the other");
    }
}
