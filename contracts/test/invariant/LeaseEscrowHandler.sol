// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ComputeCredit} from "../../src/ComputeCredit.sol";
import {LeaseEscrow} from "../../src/LeaseEscrow.sol";
import {TestBase} from "../utils/TestBase.sol";
import {Vm} from "../utils/Vm.sol";

/// @dev Drives the escrow with bounded operations by a few tenants, session keys and providers: opens, top-ups,
/// vouchers one by one and in batches (mixed with stale, over-deposit and forged items), refunds, withdrawals,
/// fee changes, pauses and time. It keeps ghost totals of every credit flow and, after each call, checks what
/// can only be seen between two states: paid never decreases, closed leases stay closed, net + fee == delta.
contract LeaseEscrowHandler is TestBase {
    uint256 internal constant TENANTS = 3;
    uint256 internal constant PROVIDERS = 5;
    uint256 internal constant MAX_DEPOSIT = 1_000e6;
    bytes32 internal constant SETTLED_TOPIC = keccak256("Settled(bytes)");

    LeaseEscrow public immutable escrow;
    ComputeCredit public immutable credit;
    address public immutable admin;

    struct Lease {
        address signer;
        uint256 signerKey;
        uint256 leaseId;
        address tenant;
        uint256 maxSigned; // the highest amount its signer ever signed
        uint256 lastPaid;
        bool wasClosed;
    }

    Lease[] internal _leases;
    uint256 internal _nextLeaseId = 1;

    uint256 public ghostIn; // deposits and top-ups
    uint256 public ghostRefunded; // deposit - paid of every lease when it closed
    uint256 public ghostWithdrawn; // by providers
    uint256 public ghostFeesWithdrawn;
    uint256 public forgedVouchersPaid;

    constructor(LeaseEscrow escrow_, ComputeCredit credit_, address admin_) {
        escrow = escrow_;
        credit = credit_;
        admin = admin_;
    }

    // ---- actors ----

    function tenantKey(uint256 index) public pure returns (uint256) {
        return 0x7E0000 + index % TENANTS;
    }

    function tenantAt(uint256 index) public pure returns (address) {
        return vm.addr(tenantKey(index));
    }

    function sessionKeyOf(uint256 index) public pure returns (uint256) {
        return 0x5E0000 + index % TENANTS;
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
        return _leases.length;
    }

    function leaseAt(uint256 index) external view returns (Lease memory) {
        return _leases[index];
    }

    // ---- operations ----

    function openLease(uint256 tenantSeed, uint256 providerSeed, uint256 deposit, uint256 lifetime, bool withSessionKey)
        external
        checked
    {
        if (escrow.paused()) return;
        deposit = bound(deposit, 1, MAX_DEPOSIT);
        uint256 expiry = vm.getBlockTimestamp() + bound(lifetime, 1, 3 days);
        uint256 key = tenantKey(tenantSeed);
        address leaseTenant = vm.addr(key);
        uint256 leaseId = _nextLeaseId++;
        uint256 signerKey = key;
        if (withSessionKey) {
            signerKey = sessionKeyOf(tenantSeed);
            (bytes32 r, bytes32 vs) = _signCompact(signerKey, escrow.hashSessionKey(leaseTenant, leaseId));
            vm.prank(leaseTenant);
            escrow.openLeaseWithSessionKey(
                leaseId, providerAt(providerSeed), deposit, expiry, vm.addr(signerKey), r, vs
            );
        } else {
            vm.prank(leaseTenant);
            escrow.openLease(leaseId, providerAt(providerSeed), deposit, expiry);
        }
        _leases.push(Lease(vm.addr(signerKey), signerKey, leaseId, leaseTenant, 0, 0, false));
        ghostIn += deposit;
    }

    function topUp(uint256 leaseSeed, uint256 amount) external checked {
        if (_leases.length == 0 || escrow.paused()) return;
        Lease storage lease = _leases[leaseSeed % _leases.length];
        (,, uint256 deposit,, uint64 expiry, bool closed) = escrow.lease(lease.signer, lease.leaseId);
        if (closed || vm.getBlockTimestamp() > expiry || deposit >= escrow.MAX_DEPOSIT()) return;
        amount = bound(
            amount, 1, escrow.MAX_DEPOSIT() - deposit < MAX_DEPOSIT ? escrow.MAX_DEPOSIT() - deposit : MAX_DEPOSIT
        );
        vm.prank(lease.tenant);
        escrow.topUp(lease.signer, lease.leaseId, amount);
        ghostIn += amount;
    }

    function settle(uint256 leaseSeed, uint256 amount, bool isFinal) external checked {
        if (_leases.length == 0) return;
        Lease storage lease = _leases[leaseSeed % _leases.length];
        (bool valid, uint256 voucherAmount) = _validAmount(lease, amount, isFinal);
        if (!valid) return;
        (bytes32 r, bytes32 vs) = _signVoucher(lease, voucherAmount, isFinal);
        _signed(lease, voucherAmount);
        escrow.settle(lease.leaseId, voucherAmount, isFinal, r, vs);
    }

    /// @dev A batch of up to 6 items: mostly valid vouchers, plus stale ones, ones above the deposit and forged ones.
    function settleBatch(uint256 seed, uint256 count) external checked {
        if (_leases.length == 0) return;
        count = bound(count, 1, 6);
        bytes memory items;
        for (uint256 i; i < count; ++i) {
            uint256 word = uint256(keccak256(abi.encode(seed, i)));
            Lease storage lease = _leases[word % _leases.length];
            bool isFinal = (word >> 64) % 4 == 0;
            uint256 kind = (word >> 72) % 8;
            uint256 amount = word >> 80;
            if (kind == 0) {
                // Forged: someone else's key signs an arbitrary amount.
                uint256 forger = bound(word >> 128, 1, SECP256K1_N - 1);
                if (forger == lease.signerKey) forger = forger == 1 ? 2 : 1;
                items = bytes.concat(items, _packed(lease.leaseId, amount % (2 * MAX_DEPOSIT), isFinal, forger));
                continue;
            }
            if (kind == 1) {
                // Any amount the signer signs, valid or not: it counts as signed.
                amount = amount % (2 * MAX_DEPOSIT);
                if (_pendingIn(lease, items) != type(uint256).max) continue;
                _signed(lease, amount);
                items = bytes.concat(items, _packed(lease.leaseId, amount, isFinal, lease.signerKey));
                continue;
            }
            (bool valid, uint256 voucherAmount) = _validAmountAfter(lease, amount, isFinal, items);
            if (!valid) continue;
            _signed(lease, voucherAmount);
            items = bytes.concat(items, _packed(lease.leaseId, voucherAmount, isFinal, lease.signerKey));
        }
        if (items.length == 0) return;
        vm.recordLogs();
        escrow.settleBatch(items);
        _checkRuns(vm.getRecordedLogs());
    }

    function refund(uint256 leaseSeed) external checked {
        if (_leases.length == 0) return;
        Lease storage lease = _leases[leaseSeed % _leases.length];
        (,, uint256 deposit, uint256 paid, uint64 expiry, bool closed) = escrow.lease(lease.signer, lease.leaseId);
        if (closed || vm.getBlockTimestamp() <= expiry + escrow.claimWindow()) return;
        uint256 before = credit.balanceOf(lease.tenant);
        escrow.refund(lease.signer, lease.leaseId);
        require(credit.balanceOf(lease.tenant) == before + deposit - paid, "the refund goes to the tenant");
    }

    function withdraw(uint256 providerSeed) external checked {
        address provider = providerAt(providerSeed);
        uint256 balance = escrow.providerBalance(provider);
        if (balance == 0) return;
        ghostWithdrawn += balance;
        vm.prank(provider);
        escrow.withdraw();
    }

    function withdrawFees() external checked {
        uint256 fees = escrow.feesAccrued();
        if (fees == 0) return;
        ghostFeesWithdrawn += fees;
        vm.prank(admin);
        escrow.withdrawFees(admin);
    }

    function setFee(uint256 feeBps) external checked {
        feeBps = bound(feeBps, 0, escrow.MAX_FEE_BPS());
        vm.prank(admin);
        escrow.setFee(feeBps);
    }

    function setPaused(bool paused) external checked {
        vm.prank(admin);
        escrow.setPaused(paused);
    }

    function warp(uint256 seconds_) external checked {
        vm.warp(vm.getBlockTimestamp() + bound(seconds_, 1, 2 days));
    }

    // ---- checks between two states ----

    /// @dev After each operation: paid never decreases, closed stays closed, what providers and fees gained is
    /// exactly what leases newly paid, and each lease closing owes its tenant deposit - paid.
    modifier checked() {
        uint256 owedAndFeesBefore = escrow.totalOwed() + escrow.feesAccrued() + ghostWithdrawn + ghostFeesWithdrawn;
        _;
        uint256 newlyPaid;
        for (uint256 i; i < _leases.length; ++i) {
            Lease storage lease = _leases[i];
            (,,, uint256 paid,, bool closed) = escrow.lease(lease.signer, lease.leaseId);
            require(paid >= lease.lastPaid, "paid decreased");
            require(closed || !lease.wasClosed, "a closed lease reopened");
            newlyPaid += paid - lease.lastPaid;
            if (closed && !lease.wasClosed) {
                (,, uint256 deposit,,,) = escrow.lease(lease.signer, lease.leaseId);
                ghostRefunded += deposit - paid; // what closing must have sent back
            }
            lease.lastPaid = paid;
            lease.wasClosed = closed;
        }
        require(
            escrow.totalOwed() + escrow.feesAccrued() + ghostWithdrawn + ghostFeesWithdrawn
                == owedAndFeesBefore + newlyPaid,
            "net + fee == delta"
        );
    }

    // ---- helpers ----

    /// @dev Per provider run of a Settled event: net + fee is the sum of its items' new payments, and each item's
    /// paid is the lease's stored paid.
    function _checkRuns(Vm.Log[] memory logs) internal view {
        for (uint256 l; l < logs.length; ++l) {
            if (logs[l].topics[0] != SETTLED_TOPIC || logs[l].emitter != address(escrow)) continue;
            bytes memory records = abi.decode(logs[l].data, (bytes));
            uint256 at;
            while (at < records.length) {
                uint256 items = _uint(records, at + 4, 2);
                uint256 net = _uint(records, at + 6, 8);
                uint256 fee = _uint(records, at + 14, 8);
                require(fee == (net + fee) * escrow.feeBps() / 10_000, "fee is the fee rate of the run");
                at += 22 + 38 * items;
            }
            require(at == records.length, "records well formed");
        }
    }

    function _uint(bytes memory data, uint256 at, uint256 size) internal pure returns (uint256 value) {
        for (uint256 i; i < size; ++i) {
            value = (value << 8) | uint8(data[at + i]);
        }
    }

    function _validAmount(Lease storage lease, uint256 amount, bool isFinal) internal view returns (bool, uint256) {
        (,, uint256 deposit, uint256 paid, uint64 expiry, bool closed) = escrow.lease(lease.signer, lease.leaseId);
        if (closed || vm.getBlockTimestamp() > expiry + escrow.claimWindow()) return (false, 0);
        uint256 lowest = isFinal ? paid : paid + 1;
        if (lowest > deposit) return (false, 0);
        return (true, bound(amount, lowest, deposit));
    }

    /// @dev Like _validAmount, but above any voucher for the same lease already in `items`.
    function _validAmountAfter(Lease storage lease, uint256 amount, bool isFinal, bytes memory items)
        internal
        view
        returns (bool, uint256)
    {
        (bool valid, uint256 voucherAmount) = _validAmount(lease, amount, isFinal);
        if (!valid || _pendingIn(lease, items) != type(uint256).max) return (false, 0);
        return (true, voucherAmount);
    }

    /// @dev type(uint256).max when `items` has no voucher for the lease yet.
    function _pendingIn(Lease storage lease, bytes memory items) internal view returns (uint256) {
        for (uint256 at; at + 87 <= items.length; at += 87) {
            if (_uint(items, at, 16) == lease.leaseId) return _uint(items, at + 17, 6);
        }
        return type(uint256).max;
    }

    function _signed(Lease storage lease, uint256 amount) internal {
        if (amount > lease.maxSigned) lease.maxSigned = amount;
    }

    function _packed(uint256 leaseId, uint256 amount, bool isFinal, uint256 key) internal view returns (bytes memory) {
        bytes32 digest = escrow.hashVoucher(LeaseEscrow.Voucher({leaseId: leaseId, amount: amount, isFinal: isFinal}));
        (bytes32 r, bytes32 vs) = _signCompact(key, digest);
        // Both casts are the packed widths: ids are counters, amounts below 2 * MAX_DEPOSIT.
        // forge-lint: disable-next-line(unsafe-typecast)
        return abi.encodePacked(uint128(leaseId), isFinal ? bytes1(0x01) : bytes1(0x00), uint48(amount), r, vs);
    }

    function _signVoucher(Lease storage lease, uint256 amount, bool isFinal) internal view returns (bytes32, bytes32) {
        return _signCompact(
            lease.signerKey,
            escrow.hashVoucher(LeaseEscrow.Voucher({leaseId: lease.leaseId, amount: amount, isFinal: isFinal}))
        );
    }

    function _signCompact(uint256 key, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, digest);
        return (r_, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }
}
