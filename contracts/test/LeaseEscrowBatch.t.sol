// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {EscrowFixture} from "./utils/EscrowFixture.sol";

/// @dev Settling many leases, of several tenants and providers, in one transaction.
contract LeaseEscrowBatchTest is EscrowFixture {
    LeaseEscrow.Voucher[] internal vouchers;
    bytes[] internal signatures;

    function _add(uint256 key, uint256 leaseId, uint256 amount, bool isFinal) internal {
        LeaseEscrow.Voucher memory voucher = _voucher(leaseId, amount, isFinal);
        vouchers.push(voucher);
        signatures.push(_sign(key, voucher));
    }

    /// @dev Leases 1 and 2: tenant pays provider; 3: otherTenant pays provider; 4: otherTenant pays otherProvider.
    function _openFour() internal {
        _open(1);
        _open(2, tenant, provider, 50e6, _expiry());
        _open(3, otherTenant, provider, 80e6, _expiry());
        _open(4, otherTenant, otherProvider, 60e6, _expiry());
    }

    function test_batch_settles_several_leases_tenants_and_providers() public {
        _openFour();
        _settle(2, 5e6, false);
        _add(TENANT_KEY, 1, 40e6, false);
        _add(TENANT_KEY, 2, 50e6, true);
        _add(OTHER_TENANT_KEY, 3, 30e6, true);
        _add(OTHER_TENANT_KEY, 4, 60e6, false);

        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseSettled(1, provider, 40e6, 40e6);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseSettled(2, provider, 45e6, 50e6);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseClosed(2, tenant, 0);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseSettled(3, provider, 30e6, 30e6);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseClosed(3, otherTenant, 50e6);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseSettled(4, otherProvider, 60e6, 60e6);
        vm.prank(stranger);
        escrow.settleBatch(vouchers, signatures);

        vm.assertEq(escrow.providerBalance(provider), 40e6 + 50e6 + 30e6, "provider");
        vm.assertEq(escrow.providerBalance(otherProvider), 60e6, "otherProvider");
        vm.assertFalse(_closed(1), "1 open");
        vm.assertTrue(_closed(2), "2 closed");
        vm.assertTrue(_closed(3), "3 closed");
        vm.assertFalse(_closed(4), "4 open");
        vm.assertEq(credit.balanceOf(otherTenant), TENANT_FUNDS - 60e6 - 30e6, "otherTenant refunded 3");
        vm.assertEq(escrow.totalEscrowed(), 60e6, "lease 1 remains, lease 4 fully paid");
        _assertConservation();
    }

    function test_batch_applies_increasing_vouchers_of_one_lease_in_order() public {
        _open(1);
        _add(TENANT_KEY, 1, 10e6, false);
        _add(TENANT_KEY, 1, 25e6, false);
        _add(TENANT_KEY, 1, 25e6, true);
        escrow.settleBatch(vouchers, signatures);
        vm.assertEq(escrow.providerBalance(provider), 25e6, "paid the latest cumulative amount");
        vm.assertTrue(_closed(1), "closed");
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS - 25e6, "refunded");
        _assertConservation();
    }

    function test_batch_of_one_matches_settle() public {
        _open(1);
        _add(TENANT_KEY, 1, 10e6, false);
        escrow.settleBatch(vouchers, signatures);
        vm.assertEq(escrow.providerBalance(provider), 10e6, "provider");
    }

    function test_batch_reverts_when_empty() public {
        vm.expectRevert(LeaseEscrow.EmptyBatch.selector);
        escrow.settleBatch(vouchers, signatures);
    }

    function test_batch_reverts_on_length_mismatch() public {
        _open(1);
        _add(TENANT_KEY, 1, 10e6, false);
        signatures.push(signatures[0]);
        vm.expectRevert(LeaseEscrow.LengthMismatch.selector);
        escrow.settleBatch(vouchers, signatures);
    }

    function test_batch_reverts_whole_with_the_named_error_of_a_bad_signature() public {
        _openFour();
        _add(TENANT_KEY, 1, 40e6, true);
        _add(TENANT_KEY, 3, 30e6, true); // lease 3 is otherTenant's
        _add(OTHER_TENANT_KEY, 4, 10e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadSignature.selector, 3));
        escrow.settleBatch(vouchers, signatures);
        _assertNothingSettled();
    }

    function test_batch_reverts_whole_with_the_named_error_of_a_stale_voucher() public {
        _openFour();
        _add(TENANT_KEY, 1, 40e6, false);
        _add(TENANT_KEY, 1, 30e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, 1, 30e6, 40e6));
        escrow.settleBatch(vouchers, signatures);
        _assertNothingSettled();
    }

    function test_batch_reverts_whole_on_voucher_after_final_in_same_batch() public {
        _openFour();
        _add(OTHER_TENANT_KEY, 3, 30e6, true);
        _add(OTHER_TENANT_KEY, 3, 40e6, true);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, 3));
        escrow.settleBatch(vouchers, signatures);
        _assertNothingSettled();
    }

    function test_batch_reverts_whole_on_unknown_lease() public {
        _openFour();
        _add(TENANT_KEY, 1, 40e6, false);
        _add(TENANT_KEY, 77, 1, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, 77));
        escrow.settleBatch(vouchers, signatures);
        _assertNothingSettled();
    }

    function test_batch_reverts_whole_on_voucher_above_deposit() public {
        _openFour();
        _add(OTHER_TENANT_KEY, 4, 60e6 + 1, false);
        _add(TENANT_KEY, 1, 40e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ExceedsDeposit.selector, 4, 60e6 + 1, 60e6));
        escrow.settleBatch(vouchers, signatures);
        _assertNothingSettled();
    }

    function testFuzz_batch_pays_each_lease_its_amount(uint256[4] memory amounts, bool[4] memory finals) public {
        _openFour();
        uint128[4] memory deposits = [DEPOSIT, uint128(50e6), uint128(80e6), uint128(60e6)];
        uint256[4] memory keys = [TENANT_KEY, TENANT_KEY, OTHER_TENANT_KEY, OTHER_TENANT_KEY];
        uint256 refunded;
        for (uint256 i; i < 4; ++i) {
            amounts[i] = bound(amounts[i], 1, deposits[i]);
            _add(keys[i], i + 1, amounts[i], finals[i]);
            if (finals[i]) refunded += deposits[i] - amounts[i];
        }
        uint256 before = credit.balanceOf(tenant) + credit.balanceOf(otherTenant);
        escrow.settleBatch(vouchers, signatures);

        vm.assertEq(escrow.providerBalance(provider), amounts[0] + amounts[1] + amounts[2], "provider");
        vm.assertEq(escrow.providerBalance(otherProvider), amounts[3], "otherProvider");
        vm.assertEq(credit.balanceOf(tenant) + credit.balanceOf(otherTenant), before + refunded, "refunds");
        for (uint256 i; i < 4; ++i) {
            vm.assertEq(_paid(i + 1), amounts[i], "paid");
            vm.assertEq(_closed(i + 1), finals[i], "closed iff final");
        }
        _assertConservation();
    }

    function _assertNothingSettled() internal view {
        for (uint256 leaseId = 1; leaseId <= 4; ++leaseId) {
            vm.assertEq(_paid(leaseId), 0, "nothing paid");
            vm.assertFalse(_closed(leaseId), "still open");
        }
        vm.assertEq(escrow.totalOwed(), 0, "nothing owed");
        vm.assertEq(escrow.totalEscrowed(), DEPOSIT + 50e6 + 80e6 + 60e6, "all escrowed");
        _assertConservation();
    }
}
