// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ComputeCredit} from "../../src/ComputeCredit.sol";
import {LeaseEscrow} from "../../src/LeaseEscrow.sol";
import {TestBase} from "../utils/TestBase.sol";

/// @dev Drives the escrow with bounded, mostly valid operations by a few tenants and providers,
/// plus forged vouchers that must never pay, and keeps ghost totals of every credit flow.
contract LeaseEscrowHandler is TestBase {
    uint256 internal constant TENANTS = 3;
    uint256 internal constant PROVIDERS = 3;
    uint256 internal constant MAX_DEPOSIT = 1_000e6;

    LeaseEscrow public immutable escrow;
    ComputeCredit public immutable credit;

    uint256[] internal _leaseIds;
    uint256 internal _nextLeaseId = 1;
    mapping(uint256 leaseId => uint256 key) internal _tenantKeyOf;

    uint256 public ghostDeposited;
    uint256 public ghostRefunded;
    uint256 public ghostWithdrawn;
    uint256 public ghostPaid;
    uint256 public forgedVouchersAccepted;

    constructor(LeaseEscrow escrow_, ComputeCredit credit_) {
        escrow = escrow_;
        credit = credit_;
    }

    // ---- actors ----

    function tenantKey(uint256 index) public pure returns (uint256) {
        return 0x7E0000 + index % TENANTS;
    }

    function tenantAt(uint256 index) public pure returns (address) {
        return vm.addr(tenantKey(index));
    }

    function providerAt(uint256 index) public pure returns (address) {
        return vm.addr(0x9000 + index % PROVIDERS);
    }

    function tenantCount() external pure returns (uint256) {
        return TENANTS;
    }

    function providerCount() external pure returns (uint256) {
        return PROVIDERS;
    }

    function leaseCount() external view returns (uint256) {
        return _leaseIds.length;
    }

    function leaseIdAt(uint256 index) external view returns (uint256) {
        return _leaseIds[index];
    }

    // ---- operations ----

    function openLease(uint256 tenantSeed, uint256 providerSeed, uint256 deposit, uint256 lifetime) external {
        deposit = bound(deposit, 1, MAX_DEPOSIT);
        lifetime = bound(lifetime, 1, 3 days);
        uint256 leaseId = _nextLeaseId++;
        uint256 key = tenantKey(tenantSeed);
        vm.prank(vm.addr(key));
        // Both casts are safe: deposit and lifetime are bounded above.
        // forge-lint: disable-next-line(unsafe-typecast)
        escrow.openLease(leaseId, providerAt(providerSeed), uint128(deposit), uint64(vm.getBlockTimestamp() + lifetime));
        _leaseIds.push(leaseId);
        _tenantKeyOf[leaseId] = key;
        ghostDeposited += deposit;
    }

    function settle(uint256 leaseSeed, uint256 amount, bool isFinal) external {
        (bool found, uint256 leaseId) = _openLease(leaseSeed, 0);
        if (!found) return;
        (bool valid, LeaseEscrow.Voucher memory voucher) = _nextVoucher(leaseId, amount, isFinal);
        if (!valid) return;
        bytes memory signature = _sign(_tenantKeyOf[leaseId], voucher);
        _recordVoucher(voucher);
        escrow.settle(voucher, signature);
    }

    function settleBatch(uint256 leaseSeed, uint256 count, uint256 amountSeed, uint256 finalMask) external {
        count = bound(count, 1, 4);
        LeaseEscrow.Voucher[] memory vouchers = new LeaseEscrow.Voucher[](count);
        bytes[] memory signatures = new bytes[](count);
        uint256 built;
        for (uint256 i; i < count; ++i) {
            (bool found, uint256 leaseId) = _openLease(leaseSeed, i);
            if (!found || _inBatch(vouchers, built, leaseId)) continue;
            uint256 amount = uint256(keccak256(abi.encode(amountSeed, i)));
            (bool valid, LeaseEscrow.Voucher memory voucher) = _nextVoucher(leaseId, amount, (finalMask >> i) & 1 == 1);
            if (!valid) continue;
            vouchers[built] = voucher;
            signatures[built] = _sign(_tenantKeyOf[leaseId], voucher);
            _recordVoucher(voucher);
            ++built;
        }
        if (built == 0) return;
        assembly ("memory-safe") {
            mstore(vouchers, built)
            mstore(signatures, built)
        }
        escrow.settleBatch(vouchers, signatures);
    }

    function refund(uint256 leaseSeed) external {
        (bool found, uint256 leaseId) = _openLease(leaseSeed, 0);
        if (!found) return;
        (,, uint128 deposit, uint128 paid, uint64 expiry,) = escrow.leases(leaseId);
        if (vm.getBlockTimestamp() < expiry) return;
        ghostRefunded += deposit - paid;
        escrow.refund(leaseId);
    }

    function withdraw(uint256 providerSeed) external {
        address provider = providerAt(providerSeed);
        uint256 balance = escrow.providerBalance(provider);
        if (balance == 0) return;
        ghostWithdrawn += balance;
        vm.prank(provider);
        escrow.withdraw();
    }

    function warp(uint256 seconds_) external {
        vm.warp(vm.getBlockTimestamp() + bound(seconds_, 1, 1 days));
    }

    /// @dev A voucher for any lease and amount signed by a key that is not the tenant's: must revert.
    function settleForged(uint256 leaseSeed, uint256 amount, bool isFinal, uint256 forgerKey) external {
        if (_leaseIds.length == 0) return;
        uint256 leaseId = _leaseIds[leaseSeed % _leaseIds.length];
        forgerKey = bound(forgerKey, 1, SECP256K1_N - 1);
        if (forgerKey == _tenantKeyOf[leaseId]) forgerKey = _tenantKeyOf[leaseId] == 1 ? 2 : 1;
        LeaseEscrow.Voucher memory voucher = LeaseEscrow.Voucher({leaseId: leaseId, amount: amount, isFinal: isFinal});
        try escrow.settle(voucher, _sign(forgerKey, voucher)) {
            ++forgedVouchersAccepted;
        } catch {}
    }

    // ---- helpers ----

    /// @dev The first open lease at or after position `seed + offset` in opening order, if any.
    function _openLease(uint256 seed, uint256 offset) internal view returns (bool found, uint256 leaseId) {
        uint256 count = _leaseIds.length;
        if (count == 0) return (false, 0);
        uint256 start = seed % count + offset;
        for (uint256 i; i < count; ++i) {
            leaseId = _leaseIds[(start + i) % count];
            (,,,,, bool closed) = escrow.leases(leaseId);
            if (!closed) return (true, leaseId);
        }
        return (false, 0);
    }

    /// @dev A valid next voucher for an open lease: cumulative, above what is paid unless final.
    function _nextVoucher(uint256 leaseId, uint256 amount, bool isFinal)
        internal
        view
        returns (bool valid, LeaseEscrow.Voucher memory voucher)
    {
        (,, uint128 deposit, uint128 paid,,) = escrow.leases(leaseId);
        uint256 lowest = isFinal ? paid : uint256(paid) + 1;
        if (lowest > deposit) return (false, voucher);
        amount = bound(amount, lowest, deposit);
        return (true, LeaseEscrow.Voucher({leaseId: leaseId, amount: amount, isFinal: isFinal}));
    }

    function _recordVoucher(LeaseEscrow.Voucher memory voucher) internal {
        (,, uint128 deposit, uint128 paid,,) = escrow.leases(voucher.leaseId);
        ghostPaid += voucher.amount - paid;
        if (voucher.isFinal) ghostRefunded += deposit - voucher.amount;
    }

    function _inBatch(LeaseEscrow.Voucher[] memory vouchers, uint256 built, uint256 leaseId)
        internal
        pure
        returns (bool)
    {
        for (uint256 i; i < built; ++i) {
            if (vouchers[i].leaseId == leaseId) return true;
        }
        return false;
    }

    function _sign(uint256 key, LeaseEscrow.Voucher memory voucher) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, escrow.hashVoucher(voucher));
        return abi.encodePacked(r, s, v);
    }
}
