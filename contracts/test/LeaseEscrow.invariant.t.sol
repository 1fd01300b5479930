// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeCredit} from "../src/ComputeCredit.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {LeaseEscrowHandler} from "./invariant/LeaseEscrowHandler.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @dev Random sequences of opens (plain and session-key), top-ups, single and batched vouchers (with stale,
/// over-deposit and forged items), refunds, withdrawals, fee changes, pauses and time jumps. After every step the
/// escrow holds exactly what it owes, no lease is paid beyond its deposit or beyond what its signer signed, and
/// credits leave only as refunds and withdrawals. Paid never decreasing, closed staying closed and net + fee ==
/// delta are checked by the handler between the states before and after each call.
contract LeaseEscrowInvariantTest is TestBase {
    uint256 internal constant TENANT_FUNDS = type(uint128).max;

    ComputeCredit internal credit;
    LeaseEscrow internal escrow;
    LeaseEscrowHandler internal handler;
    address internal admin = address(0xAD);

    function setUp() public {
        vm.warp(1_750_000_000);
        credit = new ComputeCredit(address(this));
        escrow = new LeaseEscrow(IERC20(address(credit)), admin, 100, 1 hours);
        handler = new LeaseEscrowHandler(escrow, credit, admin);
        for (uint256 i; i < handler.tenantCount(); ++i) {
            address tenant = handler.tenantAt(i);
            credit.mint(tenant, TENANT_FUNDS);
            vm.prank(tenant);
            credit.approve(address(escrow), type(uint256).max);
        }
    }

    /// @dev Read by forge: only the handler is called.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_conservation_balance_is_escrows_plus_owed_plus_fees() public view {
        uint256 escrowed;
        for (uint256 i; i < handler.leaseCount(); ++i) {
            LeaseEscrowHandler.Lease memory lease = handler.leaseAt(i);
            (,, uint256 deposit, uint256 paid,, bool closed) = escrow.lease(lease.signer, lease.leaseId);
            if (!closed) escrowed += deposit - paid;
        }
        uint256 owed;
        for (uint256 i; i < handler.providerCount(); ++i) {
            owed += escrow.providerBalance(handler.providerAt(i));
        }
        uint256 balance = credit.balanceOf(address(escrow));
        vm.assertEq(balance, escrowed + owed + escrow.feesAccrued(), "balance == open escrows + owed + fees");
        vm.assertEq(escrow.totalEscrowed(), escrowed, "totalEscrowed == sum of open deposit - paid");
        vm.assertEq(escrow.totalOwed(), owed, "totalOwed == sum of provider balances");
    }

    function invariant_paid_never_exceeds_deposit_nor_what_was_signed() public view {
        for (uint256 i; i < handler.leaseCount(); ++i) {
            LeaseEscrowHandler.Lease memory lease = handler.leaseAt(i);
            (,, uint256 deposit, uint256 paid,,) = escrow.lease(lease.signer, lease.leaseId);
            vm.assertLe(paid, deposit, "paid <= deposit");
            vm.assertLe(paid, lease.maxSigned, "paid <= the most its signer signed");
        }
    }

    function invariant_credits_leave_only_as_refunds_and_withdrawals() public view {
        vm.assertEq(
            credit.balanceOf(address(escrow)),
            handler.ghostIn() - handler.ghostRefunded() - handler.ghostWithdrawn() - handler.ghostFeesWithdrawn(),
            "balance == in - refunded - withdrawn - fees withdrawn"
        );
        uint256 tenants;
        for (uint256 i; i < handler.tenantCount(); ++i) {
            tenants += credit.balanceOf(handler.tenantAt(i));
        }
        vm.assertEq(
            tenants,
            TENANT_FUNDS * handler.tenantCount() - handler.ghostIn() + handler.ghostRefunded(),
            "refunds reach the tenants"
        );
    }
}
