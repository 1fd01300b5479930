// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @dev A hostile token that calls back into the escrow whenever the escrow sends it out.
contract ReentrantCredit is ERC20 {
    LeaseEscrow internal escrow;
    bytes internal reentry;

    constructor() ERC20("Reentrant", "RE") {}

    function arm(LeaseEscrow escrow_, bytes calldata reentry_) external {
        escrow = escrow_;
        reentry = reentry_;
    }

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == address(escrow) && reentry.length != 0) {
            (bool ok, bytes memory reason) = address(escrow).call(reentry);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
    }
}

/// @dev Every state-changing function is guarded, so a token cannot re-enter the escrow.
contract LeaseEscrowReentrancyTest is TestBase {
    uint256 internal constant TENANT_KEY = 0xA11CE;
    address internal provider = address(0x9001);
    ReentrantCredit internal token;
    LeaseEscrow internal escrow;
    address internal tenant;

    function setUp() public {
        token = new ReentrantCredit();
        escrow = new LeaseEscrow(IERC20(address(token)));
        tenant = vm.addr(TENANT_KEY);
        token.mint(tenant, 100);
        vm.prank(tenant);
        token.approve(address(escrow), 100);
        vm.prank(tenant);
        escrow.openLease(1, provider, 100, uint64(vm.getBlockTimestamp() + 1));
    }

    function _finalVoucher(uint256 amount)
        internal
        view
        returns (LeaseEscrow.Voucher memory voucher, bytes memory sig)
    {
        voucher = LeaseEscrow.Voucher({leaseId: 1, amount: amount, isFinal: true});
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(TENANT_KEY, escrow.hashVoucher(voucher));
        sig = abi.encodePacked(r, s, v);
    }

    function test_refund_to_tenant_cannot_reenter_settle() public {
        (LeaseEscrow.Voucher memory voucher, bytes memory sig) = _finalVoucher(40);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.refund, (1)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.settle(voucher, sig);
    }

    function test_withdraw_cannot_reenter_withdraw() public {
        LeaseEscrow.Voucher memory voucher = LeaseEscrow.Voucher({leaseId: 1, amount: 40, isFinal: false});
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(TENANT_KEY, escrow.hashVoucher(voucher));
        escrow.settle(voucher, abi.encodePacked(r, s, v));
        token.arm(escrow, abi.encodeCall(LeaseEscrow.withdraw, ()));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(provider);
        escrow.withdraw();
    }

    function test_refund_cannot_reenter_openLease() public {
        vm.warp(vm.getBlockTimestamp() + 1);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.openLease, (2, provider, 1, uint64(vm.getBlockTimestamp() + 9))));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.refund(1);
    }

    function test_batch_refund_cannot_reenter_settleBatch() public {
        (LeaseEscrow.Voucher memory voucher, bytes memory sig) = _finalVoucher(40);
        LeaseEscrow.Voucher[] memory vouchers = new LeaseEscrow.Voucher[](1);
        bytes[] memory sigs = new bytes[](1);
        vouchers[0] = voucher;
        sigs[0] = sig;
        token.arm(escrow, abi.encodeCall(LeaseEscrow.settleBatch, (vouchers, sigs)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.settleBatch(vouchers, sigs);
    }
}
