// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeCredit} from "../src/ComputeCredit.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {LeaseEscrowHandler} from "./invariant/LeaseEscrowHandler.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @dev Random sequences of opens, settlements, batches, refunds, withdrawals, forged vouchers and
/// time jumps; after every step the escrow holds exactly what it owes.
contract LeaseEscrowInvariantTest is TestBase {
    ComputeCredit internal credit;
    LeaseEscrow internal escrow;
    LeaseEscrowHandler internal handler;

    function setUp() public {
        vm.warp(1_750_000_000);
        credit = new ComputeCredit(address(this));
        escrow = new LeaseEscrow(IERC20(address(credit)));
        handler = new LeaseEscrowHandler(escrow, credit);
        for (uint256 i; i < handler.tenantCount(); ++i) {
            address tenant = handler.tenantAt(i);
            credit.mint(tenant, type(uint128).max);
            vm.prank(tenant);
            credit.approve(address(escrow), type(uint256).max);
        }
    }

    /// @dev Read by forge: only the handler is called.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function invariant_escrow_balance_equals_escrowed_plus_owed() public view {
        vm.assertEq(
            credit.balanceOf(address(escrow)),
            escrow.totalEscrowed() + escrow.totalOwed(),
            "balance == totalEscrowed + totalOwed"
        );
    }

    function invariant_paid_never_exceeds_deposit() public view {
        for (uint256 i; i < handler.leaseCount(); ++i) {
            (,, uint128 deposit, uint128 paid,,) = escrow.leases(handler.leaseIdAt(i));
            vm.assertLe(paid, deposit, "paid <= deposit");
        }
    }

    function invariant_totals_match_leases_and_balances() public view {
        uint256 escrowed;
        uint256 paid;
        for (uint256 i; i < handler.leaseCount(); ++i) {
            (,, uint128 deposit, uint128 leasePaid,, bool closed) = escrow.leases(handler.leaseIdAt(i));
            if (!closed) escrowed += deposit - leasePaid;
            paid += leasePaid;
        }
        uint256 owed;
        for (uint256 i; i < handler.providerCount(); ++i) {
            owed += escrow.providerBalance(handler.providerAt(i));
        }
        vm.assertEq(escrow.totalEscrowed(), escrowed, "totalEscrowed == sum of open deposit - paid");
        vm.assertEq(escrow.totalOwed(), owed, "totalOwed == sum of provider balances");
        vm.assertEq(paid, owed + handler.ghostWithdrawn(), "everything paid is owed or withdrawn");
    }

    function invariant_credit_flows_add_up() public view {
        vm.assertEq(
            credit.balanceOf(address(escrow)),
            handler.ghostDeposited() - handler.ghostRefunded() - handler.ghostWithdrawn(),
            "balance == deposited - refunded - withdrawn"
        );
        vm.assertEq(handler.ghostPaid(), escrow.totalOwed() + handler.ghostWithdrawn(), "paid == owed + withdrawn");
    }

    function invariant_forged_vouchers_never_pay() public view {
        vm.assertEq(handler.forgedVouchersAccepted(), 0, "a voucher not signed by the tenant was accepted");
    }
}
