// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {EscrowFixture} from "./utils/EscrowFixture.sol";

/// @dev Who can sign a voucher, and where it is valid: the EIP-712 domain and signature checks.
contract LeaseEscrowSignaturesTest is EscrowFixture {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256("Voucher(uint256 leaseId,uint256 amount,bool isFinal)");

    /// @dev The digest as any EIP-712 wallet computes it, independently of the contract.
    function _expectedDigest(LeaseEscrow.Voucher memory voucher, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        bytes32 domainSeparator = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("OrleansCompute LeaseEscrow"), keccak256("1"), chainId, verifyingContract
            )
        );
        bytes32 structHash = keccak256(abi.encode(VOUCHER_TYPEHASH, voucher.leaseId, voucher.amount, voucher.isFinal));
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator, structHash));
    }

    function _expectBadSignature(LeaseEscrow.Voucher memory voucher, bytes memory signature) internal {
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadSignature.selector, voucher.leaseId));
        escrow.settle(voucher, signature);
    }

    // ---- the domain and the digest ----

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
        vm.assertEq(version, "1", "version");
        vm.assertEq(chainId, block.chainid, "chainId");
        vm.assertEq(verifyingContract, address(escrow), "verifyingContract");
        vm.assertEq(salt, bytes32(0), "salt");
        vm.assertEq(extensions.length, 0, "extensions");
    }

    function test_hashVoucher_is_the_standard_eip712_digest() public view {
        LeaseEscrow.Voucher memory voucher = _voucher(0xABCDEF, 12_345_678, true);
        vm.assertEq(escrow.hashVoucher(voucher), _expectedDigest(voucher, block.chainid, address(escrow)), "digest");
    }

    function testFuzz_hashVoucher_is_the_standard_eip712_digest(uint256 leaseId, uint256 amount, bool isFinal)
        public
        view
    {
        LeaseEscrow.Voucher memory voucher = _voucher(leaseId, amount, isFinal);
        vm.assertEq(escrow.hashVoucher(voucher), _expectedDigest(voucher, block.chainid, address(escrow)), "digest");
    }

    function test_hashVoucher_binds_every_field() public view {
        bytes32 digest = escrow.hashVoucher(_voucher(1, 10, false));
        vm.assertFalse(digest == escrow.hashVoucher(_voucher(2, 10, false)), "leaseId");
        vm.assertFalse(digest == escrow.hashVoucher(_voucher(1, 11, false)), "amount");
        vm.assertFalse(digest == escrow.hashVoucher(_voucher(1, 10, true)), "isFinal");
    }

    // ---- who signs ----

    function test_voucher_signed_by_another_key_is_rejected() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 10e6, false);
        _expectBadSignature(voucher, _sign(STRANGER_KEY, voucher));
    }

    function test_voucher_signed_by_the_provider_is_rejected() public {
        uint256 providerKey = 0xB10C;
        _open(1, tenant, vm.addr(providerKey), DEPOSIT, _expiry());
        LeaseEscrow.Voucher memory voucher = _voucher(1, DEPOSIT, true);
        _expectBadSignature(voucher, _sign(providerKey, voucher));
    }

    function testFuzz_voucher_signed_by_any_key_but_the_tenants_is_rejected(uint256 key, uint256 amount) public {
        key = bound(key, 1, SECP256K1_N - 1);
        vm.assume(key != TENANT_KEY);
        amount = bound(amount, 1, DEPOSIT);
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, amount, false);
        _expectBadSignature(voucher, _sign(key, voucher));
    }

    // ---- where a voucher is valid ----

    function test_voucher_for_another_lease_of_the_same_tenant_is_rejected() public {
        _open(1);
        _open(2);
        LeaseEscrow.Voucher memory signed = _voucher(1, 10e6, false);
        bytes memory signature = _sign(TENANT_KEY, signed);
        _expectBadSignature(_voucher(2, 10e6, false), signature);
        escrow.settle(signed, signature);
    }

    function test_voucher_with_altered_amount_or_finality_is_rejected() public {
        _open(1);
        LeaseEscrow.Voucher memory signed = _voucher(1, 10e6, false);
        bytes memory signature = _sign(TENANT_KEY, signed);
        _expectBadSignature(_voucher(1, 90e6, false), signature);
        _expectBadSignature(_voucher(1, 10e6, true), signature);
    }

    function test_voucher_signed_for_another_chain_id_is_rejected() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 10e6, false);
        bytes memory signature = _sign(TENANT_KEY, _expectedDigest(voucher, 1, address(escrow)));
        _expectBadSignature(voucher, signature);
    }

    function test_voucher_signed_before_a_chain_fork_is_rejected_after_it() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 10e6, false);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.chainId(block.chainid + 1);
        _expectBadSignature(voucher, signature);
    }

    function test_voucher_signed_for_another_escrow_is_rejected() public {
        LeaseEscrow otherEscrow = new LeaseEscrow(IERC20(address(credit)));
        vm.prank(tenant);
        credit.approve(address(otherEscrow), DEPOSIT);
        vm.prank(tenant);
        otherEscrow.openLease(1, provider, DEPOSIT, _expiry());
        _open(1);

        LeaseEscrow.Voucher memory voucher = _voucher(1, 10e6, false);
        bytes memory forOther = _sign(TENANT_KEY, otherEscrow.hashVoucher(voucher));
        _expectBadSignature(voucher, forOther);
        otherEscrow.settle(voucher, forOther);
        vm.assertEq(otherEscrow.providerBalance(provider), 10e6, "valid where it was signed");
    }

    // ---- malformed and malleable signatures ----

    function test_high_s_twin_of_a_valid_signature_is_rejected() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 10e6, false);
        bytes32 digest = escrow.hashVoucher(voucher);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(TENANT_KEY, digest);
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flippedV = v == 27 ? 28 : 27;
        // The twin is a valid secp256k1 signature by the tenant: only the low-s rule rejects it.
        vm.assertEq(ecrecover(digest, flippedV, r, highS), tenant, "twin recovers to the tenant");

        _expectBadSignature(voucher, abi.encodePacked(r, highS, flippedV));
        escrow.settle(voucher, abi.encodePacked(r, s, v));
    }

    function test_signature_of_wrong_length_is_rejected() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 10e6, false);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(TENANT_KEY, escrow.hashVoucher(voucher));
        _expectBadSignature(voucher, "");
        _expectBadSignature(voucher, abi.encodePacked(r, s));
        _expectBadSignature(voucher, abi.encodePacked(r, s, v, uint8(0)));
    }

    function test_signature_with_invalid_v_or_zero_r_is_rejected() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 10e6, false);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(TENANT_KEY, escrow.hashVoucher(voucher));
        _expectBadSignature(voucher, abi.encodePacked(r, s, v - 27));
        _expectBadSignature(voucher, abi.encodePacked(r, s, uint8(29)));
        _expectBadSignature(voucher, abi.encodePacked(bytes32(0), s, v));
    }
}
