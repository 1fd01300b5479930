// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {TestBase} from "./utils/TestBase.sol";

/// @dev A hostile token that calls back into the escrow whenever credits move out of it or into it.
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
        if ((from == address(escrow) || to == address(escrow)) && reentry.length != 0) {
            (bool ok, bytes memory reason) = address(escrow).call(reentry);
            if (!ok) {
                assembly ("memory-safe") {
                    revert(add(reason, 0x20), mload(reason))
                }
            }
        }
    }
}

/// @dev Every state-changing function is guarded, so a token cannot re-enter the escrow, neither while the escrow
/// pays out (withdrawals: the only way credits leave) nor while it pulls (deposit, openLease, topUp).
contract LeaseEscrowReentrancyTest is TestBase {
    uint256 internal constant TENANT_KEY = 0xA11CE;
    uint256 internal constant LEASE = (uint256(1) << 64) | 1;
    uint256 internal constant CHANNEL = 0;
    address internal provider = address(0x9001);
    ReentrantCredit internal token;
    LeaseEscrow internal escrow;
    address internal tenant;

    function setUp() public {
        token = new ReentrantCredit();
        escrow = new LeaseEscrow(IERC20(address(token)), address(this), 100, 1);
        escrow.setSettler(address(this), true);
        tenant = vm.addr(TENANT_KEY);
        token.mint(tenant, 1_000);
        vm.prank(tenant);
        token.approve(address(escrow), type(uint256).max);
        vm.prank(tenant);
        escrow.openLease(LEASE, CHANNEL, provider, 100, vm.getBlockTimestamp() + 1);
    }

    function _settle(uint256 amount, bool isFinal) internal {
        (bytes32 r, bytes32 vs) = _signed(amount, isFinal);
        escrow.settle(LEASE, CHANNEL, amount, isFinal, r, vs);
    }

    function _signed(uint256 amount, bool isFinal) internal view returns (bytes32 r, bytes32 vs) {
        bytes32 digest = escrow.hashVoucher(
            LeaseEscrow.Voucher({leaseId: LEASE, channel: CHANNEL, amount: amount, isFinal: isFinal})
        );
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(TENANT_KEY, digest);
        return (r_, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    function test_withdrawBalance_cannot_reenter_settleBatch() public {
        _settle(40, true); // 60 credited to the tenant's balance
        (bytes32 r, bytes32 vs) = _signed(50, true);
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes memory items =
            abi.encodePacked(bytes1(0x01), r, vs, uint128(LEASE), uint32(CHANNEL), bytes1(0x01), uint48(50));
        token.arm(escrow, abi.encodeCall(LeaseEscrow.settleBatch, (items)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(tenant);
        escrow.withdrawBalance();
    }

    function test_withdrawBalance_cannot_reenter_withdrawBalance() public {
        _settle(40, true);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.withdrawBalance, ()));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(tenant);
        escrow.withdrawBalance();
    }

    function test_withdraw_cannot_reenter_withdraw() public {
        _settle(40, false);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.withdraw, ()));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(provider);
        escrow.withdraw();
    }

    function test_withdrawFees_cannot_reenter_topUp() public {
        _settle(100, false);
        token.arm(escrow, abi.encodeCall(LeaseEscrow.topUp, (tenant, CHANNEL, LEASE, 1)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        escrow.withdrawFees(address(this));
    }

    function test_openLease_pull_cannot_reenter_refund() public {
        token.arm(escrow, abi.encodeCall(LeaseEscrow.refund, (tenant, CHANNEL, LEASE)));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(tenant);
        escrow.openLease(LEASE + (uint256(1) << 64), CHANNEL + 1, provider, 1, vm.getBlockTimestamp() + 1);
    }

    function test_deposit_pull_cannot_reenter_withdrawBalance() public {
        token.arm(escrow, abi.encodeCall(LeaseEscrow.withdrawBalance, ()));
        vm.expectRevert(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector);
        vm.prank(tenant);
        escrow.deposit(10);
    }
}
