// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeCredit} from "../src/ComputeCredit.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {LeaseEscrowHandler} from "./invariant/LeaseEscrowHandler.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @dev Random sequences of opens (plain and session-key, on recycled channels, from balances or pulled), stale
/// reopen attempts, deposits, balance withdrawals, top-ups, single, batched (with stale, over-deposit, forged,
/// wrong-channel and superseded-lease items) and bundled vouchers (one signature, genuine or forged), tenants' own
/// final vouchers (closing), refunds, provider withdrawals, fee changes, pauses and time jumps. After every step the escrow holds exactly what it owes, no lease is paid beyond its deposit or beyond
/// an amount its signer signed for it, and credits leave only through withdrawals. Paid never decreasing, closed and
/// superseded leases staying closed and net + fee == delta are checked by the handler between the states before
/// and after each call.
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
        vm.prank(admin);
        escrow.setSettler(address(handler), true);
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

    function invariant_conservation_balance_is_escrows_plus_tenant_balances_plus_owed_plus_fees() public view {
        uint256 escrowed;
        for (uint256 i; i < handler.leaseCount(); ++i) {
            LeaseEscrowHandler.Lease memory lease = handler.leaseAt(i);
            (,, uint256 deposit, uint256 paid,, bool closed) = escrow.lease(lease.signer, lease.channel, lease.leaseId);
            if (!closed) escrowed += deposit - paid;
        }
        uint256 tenantBalances;
        for (uint256 i; i < handler.tenantCount(); ++i) {
            tenantBalances += escrow.tenantBalance(handler.tenantAt(i));
        }
        uint256 owed;
        for (uint256 i; i < handler.providerCount(); ++i) {
            owed += escrow.providerBalance(handler.providerAt(i));
        }
        uint256 balance = credit.balanceOf(address(escrow));
        vm.assertEq(
            balance,
            escrowed + tenantBalances + owed + escrow.feesAccrued(),
            "balance == open escrows + tenant balances + owed + fees"
        );
        vm.assertEq(escrow.totalHeld(), escrowed + tenantBalances, "totalHeld == open escrows + tenant balances");
        vm.assertEq(escrow.totalOwed(), owed, "totalOwed == sum of provider balances");
    }

    function invariant_paid_never_exceeds_deposit_nor_what_was_signed() public view {
        for (uint256 i; i < handler.leaseCount(); ++i) {
            LeaseEscrowHandler.Lease memory lease = handler.leaseAt(i);
            // A superseded lease's word holds its successor: its last paid and deposit are the handler's.
            (uint256 deposit, uint256 paid) = (lease.lastDeposit, lease.lastPaid);
            if (!lease.superseded) {
                (,, deposit, paid,,) = escrow.lease(lease.signer, lease.channel, lease.leaseId);
            }
            vm.assertLe(paid, deposit, "paid <= deposit");
            vm.assertLe(paid, lease.maxSigned, "paid <= the most its signer signed for it");
            vm.assertTrue(paid == 0 || handler.signedAmount(lease.leaseId, paid), "paid is an amount its signer signed");
        }
    }

    function invariant_tenant_balances_are_deposits_plus_refunds_less_draws_and_withdrawals() public view {
        uint256 tenantBalances;
        for (uint256 i; i < handler.tenantCount(); ++i) {
            tenantBalances += escrow.tenantBalance(handler.tenantAt(i));
        }
        vm.assertEq(
            tenantBalances,
            handler.ghostDeposited() + handler.ghostCreditedToBalances() - handler.ghostDrawn()
                - handler.ghostTenantWithdrawn(),
            "balances == deposited + refunds credited - drawn - withdrawn"
        );
    }

    function invariant_credits_leave_only_through_withdrawals() public view {
        vm.assertEq(
            credit.balanceOf(address(escrow)),
            handler.ghostIn() - handler.ghostTenantWithdrawn() - handler.ghostWithdrawn()
                - handler.ghostFeesWithdrawn(),
            "balance == in - tenant, provider and fee withdrawals"
        );
        uint256 tenants;
        for (uint256 i; i < handler.tenantCount(); ++i) {
            tenants += credit.balanceOf(handler.tenantAt(i));
        }
        vm.assertEq(
            tenants,
            TENANT_FUNDS * handler.tenantCount() - handler.ghostIn() + handler.ghostTenantWithdrawn(),
            "tenants get credits back only by withdrawing"
        );
    }
}
