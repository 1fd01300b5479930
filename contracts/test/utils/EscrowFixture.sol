// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeCredit} from "../../src/ComputeCredit.sol";
import {LeaseEscrow} from "../../src/LeaseEscrow.sol";
import {TestBase} from "./TestBase.sol";

/// @dev A credit token, an escrow, funded tenants who have approved it, and helpers to open
/// leases and sign vouchers.
abstract contract EscrowFixture is TestBase {
    uint256 internal constant TENANT_KEY = 0xA11CE;
    uint256 internal constant OTHER_TENANT_KEY = 0xB0B;
    uint256 internal constant STRANGER_KEY = 0x5EED;

    uint256 internal constant START = 1_750_000_000;
    uint64 internal constant ONE_HOUR = 3600;
    uint128 internal constant DEPOSIT = 100e6; // 100 OCC
    uint256 internal constant TENANT_FUNDS = 1_000_000e6;

    ComputeCredit internal credit;
    LeaseEscrow internal escrow;

    address internal tenant;
    address internal otherTenant;
    address internal stranger;
    address internal provider = address(0x9001);
    address internal otherProvider = address(0x9002);

    function setUp() public virtual {
        vm.warp(START);
        credit = new ComputeCredit(address(this));
        escrow = new LeaseEscrow(IERC20(address(credit)));
        tenant = vm.addr(TENANT_KEY);
        otherTenant = vm.addr(OTHER_TENANT_KEY);
        stranger = vm.addr(STRANGER_KEY);
        vm.label(tenant, "tenant");
        vm.label(otherTenant, "otherTenant");
        vm.label(stranger, "stranger");
        vm.label(provider, "provider");
        vm.label(otherProvider, "otherProvider");
        _fund(tenant);
        _fund(otherTenant);
    }

    function _fund(address account) internal {
        credit.mint(account, TENANT_FUNDS);
        vm.prank(account);
        credit.approve(address(escrow), type(uint256).max);
    }

    function _expiry() internal view returns (uint64) {
        return uint64(vm.getBlockTimestamp() + ONE_HOUR);
    }

    function _open(uint256 leaseId, address leaseTenant, address leaseProvider, uint128 deposit, uint64 expiry)
        internal
    {
        vm.prank(leaseTenant);
        escrow.openLease(leaseId, leaseProvider, deposit, expiry);
    }

    /// @dev Lease `leaseId`: `tenant` pays `provider`, DEPOSIT escrowed, expiring in an hour.
    function _open(uint256 leaseId) internal {
        _open(leaseId, tenant, provider, DEPOSIT, _expiry());
    }

    function _voucher(uint256 leaseId, uint256 amount, bool isFinal)
        internal
        pure
        returns (LeaseEscrow.Voucher memory)
    {
        return LeaseEscrow.Voucher({leaseId: leaseId, amount: amount, isFinal: isFinal});
    }

    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    function _sign(uint256 key, LeaseEscrow.Voucher memory voucher) internal view returns (bytes memory) {
        return _sign(key, escrow.hashVoucher(voucher));
    }

    /// @dev Signs a voucher with `TENANT_KEY` and settles it.
    function _settle(uint256 leaseId, uint256 amount, bool isFinal) internal {
        LeaseEscrow.Voucher memory voucher = _voucher(leaseId, amount, isFinal);
        escrow.settle(voucher, _sign(TENANT_KEY, voucher));
    }

    function _paid(uint256 leaseId) internal view returns (uint256 paid) {
        (,,, paid,,) = escrow.leases(leaseId);
    }

    function _closed(uint256 leaseId) internal view returns (bool closed) {
        (,,,,, closed) = escrow.leases(leaseId);
    }

    function _assertConservation() internal view {
        vm.assertEq(
            credit.balanceOf(address(escrow)),
            escrow.totalEscrowed() + escrow.totalOwed(),
            "escrow balance == totalEscrowed + totalOwed"
        );
    }
}
