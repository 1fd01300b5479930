// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {EscrowFixture} from "./utils/EscrowFixture.sol";

/// @dev Opening, settling, refunding and withdrawing one lease at a time.
contract LeaseEscrowTest is EscrowFixture {
    // ---- construction ----

    function test_constructor_records_the_credit_token() public view {
        vm.assertEq(escrow.credit(), address(credit), "credit");
        vm.assertEq(escrow.totalEscrowed(), 0, "totalEscrowed");
        vm.assertEq(escrow.totalOwed(), 0, "totalOwed");
    }

    function test_constructor_rejects_zero_credit() public {
        vm.expectRevert(LeaseEscrow.ZeroAddress.selector);
        new LeaseEscrow(IERC20(address(0)));
    }

    function test_unknown_lease_reads_as_zeros() public view {
        (address t, address p, uint128 deposit, uint128 paid, uint64 expiry, bool closed) = escrow.leases(42);
        vm.assertEq(t, address(0), "tenant");
        vm.assertEq(p, address(0), "provider");
        vm.assertEq(deposit, 0, "deposit");
        vm.assertEq(paid, 0, "paid");
        vm.assertEq(expiry, 0, "expiry");
        vm.assertFalse(closed, "closed");
    }

    // ---- openLease ----

    function test_openLease_pulls_deposit_and_records_lease() public {
        uint64 expiry = _expiry();
        vm.expectEmit(true, true, true, true, address(escrow));
        emit LeaseEscrow.LeaseOpened(1, tenant, provider, DEPOSIT, expiry);
        _open(1, tenant, provider, DEPOSIT, expiry);

        (address t, address p, uint128 deposit, uint128 paid, uint64 e, bool closed) = escrow.leases(1);
        vm.assertEq(t, tenant, "tenant");
        vm.assertEq(p, provider, "provider");
        vm.assertEq(deposit, DEPOSIT, "deposit");
        vm.assertEq(paid, 0, "paid");
        vm.assertEq(e, expiry, "expiry");
        vm.assertFalse(closed, "closed");
        vm.assertEq(credit.balanceOf(address(escrow)), DEPOSIT, "escrow balance");
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS - DEPOSIT, "tenant balance");
        vm.assertEq(escrow.totalEscrowed(), DEPOSIT, "totalEscrowed");
        _assertConservation();
    }

    function test_openLease_reverts_when_lease_id_is_taken() public {
        _open(1);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseExists.selector, 1));
        _open(1, otherTenant, otherProvider, DEPOSIT, _expiry());
    }

    function test_openLease_reverts_on_zero_provider() public {
        vm.expectRevert(LeaseEscrow.ZeroAddress.selector);
        _open(1, tenant, address(0), DEPOSIT, _expiry());
    }

    function test_openLease_reverts_on_zero_deposit() public {
        vm.expectRevert(LeaseEscrow.ZeroDeposit.selector);
        _open(1, tenant, provider, 0, _expiry());
    }

    function test_openLease_reverts_when_expiry_is_now() public {
        uint64 now_ = uint64(vm.getBlockTimestamp());
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ExpiryInPast.selector, now_));
        _open(1, tenant, provider, DEPOSIT, now_);
    }

    function test_openLease_reverts_when_expiry_is_past() public {
        uint64 past = uint64(vm.getBlockTimestamp() - 1);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ExpiryInPast.selector, past));
        _open(1, tenant, provider, DEPOSIT, past);
    }

    function test_openLease_reverts_without_allowance() public {
        credit.mint(stranger, DEPOSIT);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), 0, DEPOSIT)
        );
        _open(1, stranger, provider, DEPOSIT, _expiry());
    }

    function test_openLease_reverts_when_tenant_lacks_credits() public {
        vm.prank(stranger);
        credit.approve(address(escrow), DEPOSIT);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, stranger, 0, DEPOSIT));
        _open(1, stranger, provider, DEPOSIT, _expiry());
    }

    // ---- settle ----

    function test_happy_path_open_settle_partial_settle_final_withdraw() public {
        _open(7);

        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseSettled(7, provider, 30e6, 30e6);
        _settle(7, 30e6, false);
        vm.assertEq(escrow.providerBalance(provider), 30e6, "balance after partial");
        vm.assertEq(escrow.totalEscrowed(), DEPOSIT - 30e6, "escrowed after partial");
        vm.assertEq(escrow.totalOwed(), 30e6, "owed after partial");
        _assertConservation();

        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseSettled(7, provider, 45e6, 75e6);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseClosed(7, tenant, 25e6);
        _settle(7, 75e6, true);
        vm.assertEq(_paid(7), 75e6, "paid");
        vm.assertTrue(_closed(7), "closed");
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS - 75e6, "tenant refunded");
        vm.assertEq(escrow.totalEscrowed(), 0, "escrowed after final");
        vm.assertEq(escrow.totalOwed(), 75e6, "owed after final");
        _assertConservation();

        vm.expectEmit(true, false, false, true, address(escrow));
        emit LeaseEscrow.Withdrawn(provider, 75e6);
        vm.prank(provider);
        escrow.withdraw();
        vm.assertEq(credit.balanceOf(provider), 75e6, "provider paid");
        vm.assertEq(escrow.providerBalance(provider), 0, "balance zeroed");
        vm.assertEq(credit.balanceOf(address(escrow)), 0, "escrow empty");
        _assertConservation();
    }

    function test_settle_can_be_submitted_by_anyone() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 10e6, false);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.prank(stranger);
        escrow.settle(voucher, signature);
        vm.assertEq(escrow.providerBalance(provider), 10e6, "provider credited");
    }

    function test_final_voucher_for_the_amount_already_paid_closes_with_zero_delta() public {
        _open(1);
        _settle(1, 40e6, false);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseSettled(1, provider, 0, 40e6);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseClosed(1, tenant, 60e6);
        _settle(1, 40e6, true);
        vm.assertEq(escrow.providerBalance(provider), 40e6, "no double pay");
        vm.assertTrue(_closed(1), "closed");
        _assertConservation();
    }

    function test_final_voucher_for_zero_refunds_whole_deposit() public {
        _open(1);
        _settle(1, 0, true);
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS, "tenant whole");
        vm.assertEq(escrow.providerBalance(provider), 0, "provider nothing");
        vm.assertTrue(_closed(1), "closed");
        _assertConservation();
    }

    function test_final_voucher_for_whole_deposit_refunds_nothing() public {
        _open(1);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseClosed(1, tenant, 0);
        _settle(1, DEPOSIT, true);
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS - DEPOSIT, "tenant paid all");
        vm.assertEq(escrow.providerBalance(provider), DEPOSIT, "provider all");
        _assertConservation();
    }

    function test_settle_is_allowed_after_expiry_while_open() public {
        _open(1);
        vm.warp(vm.getBlockTimestamp() + 2 * ONE_HOUR);
        _settle(1, 20e6, false);
        _settle(1, 50e6, true);
        vm.assertEq(escrow.providerBalance(provider), 50e6, "provider");
        vm.assertTrue(_closed(1), "closed");
    }

    function test_settle_reverts_on_unknown_lease() public {
        LeaseEscrow.Voucher memory voucher = _voucher(9, 1, false);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, 9));
        escrow.settle(voucher, signature);
    }

    function test_settle_reverts_after_final_voucher() public {
        _open(1);
        _settle(1, 10e6, true);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 20e6, true);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, 1));
        escrow.settle(voucher, signature);
    }

    function test_settle_reverts_after_refund() public {
        _open(1);
        vm.warp(vm.getBlockTimestamp() + ONE_HOUR);
        escrow.refund(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 10e6, false);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, 1));
        escrow.settle(voucher, signature);
    }

    function test_settle_reverts_above_deposit() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, DEPOSIT + 1, false);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ExceedsDeposit.selector, 1, DEPOSIT + 1, DEPOSIT));
        escrow.settle(voucher, signature);
    }

    function test_settle_reverts_on_lower_cumulative_amount() public {
        _open(1);
        _settle(1, 50e6, false);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 40e6, true);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, 1, 40e6, 50e6));
        escrow.settle(voucher, signature);
    }

    function test_settle_reverts_on_replayed_voucher() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 50e6, false);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        escrow.settle(voucher, signature);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, 1, 50e6, 50e6));
        escrow.settle(voucher, signature);
        vm.assertEq(escrow.providerBalance(provider), 50e6, "paid once");
    }

    function test_settle_reverts_on_non_final_zero_voucher() public {
        _open(1);
        LeaseEscrow.Voucher memory voucher = _voucher(1, 0, false);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, 1, 0, 0));
        escrow.settle(voucher, signature);
    }

    // ---- refund ----

    function test_refund_after_expiry_returns_whole_deposit_when_nothing_was_paid() public {
        _open(1);
        vm.warp(vm.getBlockTimestamp() + ONE_HOUR + 1);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseClosed(1, tenant, DEPOSIT);
        escrow.refund(1);
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS, "tenant whole");
        vm.assertTrue(_closed(1), "closed");
        vm.assertEq(escrow.totalEscrowed(), 0, "escrowed");
        _assertConservation();
    }

    function test_refund_returns_unpaid_part_and_keeps_provider_balance() public {
        _open(1);
        _settle(1, 35e6, false);
        vm.warp(vm.getBlockTimestamp() + ONE_HOUR);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseClosed(1, tenant, 65e6);
        escrow.refund(1);
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS - 35e6, "tenant");
        vm.assertEq(escrow.providerBalance(provider), 35e6, "provider keeps earnings");
        _assertConservation();
    }

    function test_refund_is_allowed_exactly_at_expiry_and_by_anyone() public {
        uint64 expiry = _expiry();
        _open(1, tenant, provider, DEPOSIT, expiry);
        vm.warp(expiry);
        vm.prank(stranger);
        escrow.refund(1);
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS, "refund goes to tenant");
        vm.assertEq(credit.balanceOf(stranger), 0, "not to caller");
    }

    function test_refund_of_fully_paid_lease_closes_it_with_zero_refund() public {
        _open(1);
        _settle(1, DEPOSIT, false);
        vm.warp(vm.getBlockTimestamp() + ONE_HOUR);
        vm.expectEmit(true, true, false, true, address(escrow));
        emit LeaseEscrow.LeaseClosed(1, tenant, 0);
        escrow.refund(1);
        vm.assertTrue(_closed(1), "closed");
        _assertConservation();
    }

    function test_refund_reverts_before_expiry() public {
        uint64 expiry = _expiry();
        _open(1, tenant, provider, DEPOSIT, expiry);
        vm.warp(expiry - 1);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.NotExpired.selector, 1, expiry));
        escrow.refund(1);
    }

    function test_refund_reverts_on_unknown_lease() public {
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, 3));
        escrow.refund(3);
    }

    function test_refund_reverts_when_already_refunded() public {
        _open(1);
        vm.warp(vm.getBlockTimestamp() + ONE_HOUR);
        escrow.refund(1);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, 1));
        escrow.refund(1);
    }

    function test_refund_reverts_after_final_voucher() public {
        _open(1);
        _settle(1, 10e6, true);
        vm.warp(vm.getBlockTimestamp() + ONE_HOUR);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, 1));
        escrow.refund(1);
    }

    // ---- withdraw ----

    function test_withdraw_pays_earnings_of_every_lease_at_once() public {
        _open(1);
        _open(2, otherTenant, provider, 50e6, _expiry());
        _settle(1, 30e6, false);
        LeaseEscrow.Voucher memory voucher = _voucher(2, 20e6, true);
        escrow.settle(voucher, _sign(OTHER_TENANT_KEY, voucher));

        vm.prank(provider);
        escrow.withdraw();
        vm.assertEq(credit.balanceOf(provider), 50e6, "both leases");
        vm.assertEq(escrow.totalOwed(), 0, "owed");
        _assertConservation();
    }

    function test_withdraw_reverts_with_nothing_earned() public {
        vm.expectRevert(LeaseEscrow.NothingToWithdraw.selector);
        vm.prank(provider);
        escrow.withdraw();
    }

    function test_withdraw_reverts_the_second_time() public {
        _open(1);
        _settle(1, 30e6, false);
        vm.prank(provider);
        escrow.withdraw();
        vm.expectRevert(LeaseEscrow.NothingToWithdraw.selector);
        vm.prank(provider);
        escrow.withdraw();
    }

    function test_withdraw_then_earn_again() public {
        _open(1);
        _settle(1, 30e6, false);
        vm.prank(provider);
        escrow.withdraw();
        _settle(1, 45e6, false);
        vm.prank(provider);
        escrow.withdraw();
        vm.assertEq(credit.balanceOf(provider), 45e6, "cumulative");
        _assertConservation();
    }

    // ---- fuzz ----

    function testFuzz_openLease_accepts_only_future_expiry(uint64 expiry) public {
        if (expiry <= vm.getBlockTimestamp()) {
            vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ExpiryInPast.selector, expiry));
            _open(1, tenant, provider, DEPOSIT, expiry);
        } else {
            _open(1, tenant, provider, DEPOSIT, expiry);
            (,,,, uint64 stored,) = escrow.leases(1);
            vm.assertEq(stored, expiry, "expiry");
        }
    }

    function testFuzz_refund_only_from_expiry_on(uint64 lifetime, uint64 elapsed) public {
        lifetime = uint64(bound(lifetime, 1, 365 days));
        elapsed = uint64(bound(elapsed, 0, 2 * uint256(lifetime)));
        uint64 expiry = uint64(vm.getBlockTimestamp()) + lifetime;
        _open(1, tenant, provider, DEPOSIT, expiry);
        vm.warp(vm.getBlockTimestamp() + elapsed);
        if (elapsed < lifetime) {
            vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.NotExpired.selector, 1, expiry));
            escrow.refund(1);
        } else {
            escrow.refund(1);
            vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS, "refunded");
        }
    }

    function testFuzz_cumulative_vouchers_pay_each_amount_once(
        uint128 deposit,
        uint256 first,
        uint256 second,
        bool secondIsFinal
    ) public {
        deposit = uint128(bound(deposit, 1, TENANT_FUNDS));
        first = bound(first, 1, deposit);
        second = bound(second, first, deposit);
        vm.assume(second > first || secondIsFinal);
        _open(1, tenant, provider, deposit, _expiry());

        _settle(1, first, false);
        _settle(1, second, secondIsFinal);

        vm.assertEq(_paid(1), second, "paid");
        vm.assertEq(escrow.providerBalance(provider), second, "provider earned the last cumulative amount");
        vm.assertEq(
            credit.balanceOf(tenant), TENANT_FUNDS - (secondIsFinal ? second : deposit), "tenant keeps the rest"
        );
        vm.assertEq(escrow.totalEscrowed(), secondIsFinal ? 0 : deposit - second, "escrowed");
        _assertConservation();
    }

    function testFuzz_voucher_above_deposit_reverts(uint128 deposit, uint256 amount, bool isFinal) public {
        deposit = uint128(bound(deposit, 1, TENANT_FUNDS));
        amount = bound(amount, uint256(deposit) + 1, type(uint256).max);
        _open(1, tenant, provider, deposit, _expiry());
        LeaseEscrow.Voucher memory voucher = _voucher(1, amount, isFinal);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ExceedsDeposit.selector, 1, amount, deposit));
        escrow.settle(voucher, signature);
    }

    function testFuzz_voucher_below_paid_reverts(uint256 paid, uint256 amount, bool isFinal) public {
        paid = bound(paid, 1, DEPOSIT);
        amount = bound(amount, 0, paid - 1);
        _open(1);
        _settle(1, paid, false);
        LeaseEscrow.Voucher memory voucher = _voucher(1, amount, isFinal);
        bytes memory signature = _sign(TENANT_KEY, voucher);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, 1, amount, paid));
        escrow.settle(voucher, signature);
    }
}

