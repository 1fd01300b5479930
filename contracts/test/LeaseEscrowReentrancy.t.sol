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
    uint256 internal constant LEASE = 1;
    address internal provider = address(0x9001);
    ReentrantCredit internal token;
    LeaseEscrow internal escrow;
    address internal tenant;

    function setUp() public {
        token = new ReentrantCredit();
        escrow = new LeaseEscrow(IERC20(address(token)), address(this), 100, 1);
        tenant = vm.addr(TENANT_KEY);
        token.mint(tenant, 1_000);
        vm.prank(tenant);
        token.approve(address(escrow), type(uint256).max);
        vm.prank(tenant);
        escrow.openLease(LEASE, provider, 100, vm.getBlockTimestamp() + 1);
    }

    function _signed(uint256 amount, bool isFinal) internal view returns (bytes32 r, bytes32 vs) {
        bytes32 digest = escrow.hashVoucher(LeaseEscrow.Voucher({leaseId: LEASE, amount: amount, isFinal: isFinal}));
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(TENANT_KEY, digest);
        return (r_, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    function test_final_refund_cannot_reenter_refund() public {
        (bytes32 r, bytes32 vs) = _signed(40, true);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.refund, (tenant, LEASE)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.settle(LEASE, 40, true, r, vs);
    }

    function test_batch_refund_cannot_reenter_settleBatch() public {
        (bytes32 r, bytes32 vs) = _signed(40, true);
        bytes memory items = abi.encodePacked(uint128(LEASE), bytes1(0x01), uint48(40), r, vs);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.settleBatch, (items)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.settleBatch(items);
    }

    function test_withdraw_cannot_reenter_withdraw() public {
        (bytes32 r, bytes32 vs) = _signed(40, false);
        escrow.settle(LEASE, 40, false, r, vs);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.withdraw, ()));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(provider);
        escrow.withdraw();
    }

    function test_refund_cannot_reenter_openLease() public {
        vm.warp(vm.getBlockTimestamp() + 10);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.openLease, (2, provider, 1, vm.getBlockTimestamp() + 9)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.refund(tenant, LEASE);
    }

    function test_withdrawFees_cannot_reenter_topUp() public {
        (bytes32 r, bytes32 vs) = _signed(100, false);
        escrow.settle(LEASE, 100, false, r, vs);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.topUp, (tenant, LEASE, 1)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.withdrawFees(address(this));
    }
}
