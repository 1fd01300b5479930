// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ComputeCredit} from "../../src/ComputeCredit.sol";
import {LeaseEscrow} from "../../src/LeaseEscrow.sol";
import {TestBase} from "../utils/TestBase.sol";
import {Vm} from "../utils/Vm.sol";

/// @dev Drives the escrow with bounded operations by a few tenants, session keys and providers on a few channels
/// each, so that channels are recycled often: opens (plain and session-key, drawing on tenant balances or pulling),
/// attempts to reopen a channel with a stale id, deposits, balance withdrawals, top-ups, vouchers one by one, in
/// batches (mixed with stale, over-deposit, forged and superseded-lease items) and in one signer's bundles, tenants'
/// own final vouchers (which start a closing instead of closing), refunds, provider withdrawals, fee changes (each
/// lease keeps the fee it opened with), pauses and time. It keeps ghost totals of every credit flow and, after each
/// call, checks what can only be seen between two states: paid never decreases, closed (and superseded) leases stay
/// closed, net + fee == delta, and each run's fee is the sum of its leases' own fees.
contract LeaseEscrowHandler is TestBase {
    uint256 internal constant TENANTS = 3;
    uint256 internal constant PROVIDERS = 5;
    uint256 internal constant CHANNELS = 3;
    uint256 internal constant MAX_DEPOSIT = 1_000e6;
    bytes32 internal constant SETTLED_TOPIC = keccak256("Settled(bytes)");

    LeaseEscrow public immutable escrow;
    ComputeCredit public immutable credit;
    address public immutable admin;

    struct Lease {
        address signer;
        uint256 signerKey;
        uint256 leaseId;
        uint256 channel;
        address tenant;
        uint256 maxSigned; // the highest amount its signer ever signed for it
        uint256 lastPaid;
        uint256 lastDeposit;
        bool wasClosed;
        bool superseded; // a later lease took its channel
        uint256 feeBps; // the escrow's fee when it opened: the fee it pays for good
    }

    Lease[] internal _leases;
    mapping(address signer => mapping(uint256 channel => uint256 indexPlusOne)) internal _current;
    uint64 internal _lastTag;
    /// @notice Every amount a lease's signer signed for it (by lease id): what it is paid must be one of them.
    mapping(uint256 leaseId => mapping(uint256 amount => bool)) public signedAmount;

    uint256 public ghostIn; // credits pulled in: deposits, and the shortfalls of opens and top-ups
    uint256 public ghostCreditedToBalances; // deposit - paid of every lease when it closed
    uint256 public ghostDeposited; // deposit() into balances
    uint256 public ghostDrawn; // taken from balances by opens and top-ups
    uint256 public ghostTenantWithdrawn;
    uint256 public ghostWithdrawn; // by providers
    uint256 public ghostFeesWithdrawn;

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

    function openLease(
        uint256 tenantSeed,
        uint256 providerSeed,
        uint256 channelSeed,
        uint256 amount,
        uint256 lifetime,
        bool withSessionKey
    ) external checked {
        if (escrow.paused()) return;
        _openLease(
            tenantSeed,
            withSessionKey ? sessionKeyOf(tenantSeed) : tenantKey(tenantSeed),
            channelSeed % CHANNELS,
            providerAt(providerSeed),
            bound(amount, 1, MAX_DEPOSIT),
            vm.getBlockTimestamp() + bound(lifetime, 1, 3 days)
        );
    }

    function _openLease(
        uint256 tenantSeed,
        uint256 signerKey,
        uint256 channel,
        address provider,
        uint256 amount,
        uint256 expiry
    ) internal {
        uint256 previous = _current[vm.addr(signerKey)][channel];
        if (previous != 0 && !_leases[previous - 1].wasClosed) return; // the channel's lease is still open

        // The market's ids: a growing tag (high 64 bits), a random low half.
        uint256 leaseId = (uint256(++_lastTag) << 64) | uint64(uint256(keccak256(abi.encode(channel, amount, expiry))));
        address leaseTenant = tenantAt(tenantSeed);
        uint256 balance = escrow.tenantBalance(leaseTenant);
        uint256 drawn = balance < amount ? balance : amount;
        uint256 feeBps = escrow.feeBps();
        _openAs(leaseTenant, signerKey, leaseId, channel, provider, amount, expiry);
        require(escrow.leaseFeeBps(vm.addr(signerKey), channel, leaseId) == feeBps, "a lease keeps the fee it opened with");
        require(escrow.tenantBalance(leaseTenant) == balance - drawn, "open draws on the balance first");
        if (previous != 0) _leases[previous - 1].superseded = true;
        _leases.push(Lease(vm.addr(signerKey), signerKey, leaseId, channel, leaseTenant, 0, 0, amount, false, false, feeBps));
        _current[vm.addr(signerKey)][channel] = _leases.length;
        ghostDrawn += drawn;
        ghostIn += amount - drawn;
    }

    function _openAs(
        address leaseTenant,
        uint256 signerKey,
        uint256 leaseId,
        uint256 channel,
        address provider,
        uint256 amount,
        uint256 expiry
    ) internal {
        address signer = vm.addr(signerKey);
        vm.startPrank(leaseTenant);
        if (signer != leaseTenant) {
            (bytes32 r, bytes32 vs) = _signCompact(signerKey, escrow.hashSessionKey(leaseTenant, leaseId, channel));
            escrow.openLeaseWithSessionKey(leaseId, channel, provider, amount, expiry, signer, r, vs);
        } else {
            escrow.openLease(leaseId, channel, provider, amount, expiry);
        }
        vm.stopPrank();
    }

    /// @dev A closed or superseded lease's id can never open again, on its channel or by another tenant's hand.
    function reopenStale(uint256 leaseSeed) external checked {
        if (_leases.length == 0 || escrow.paused()) return;
        Lease storage lease = _leases[leaseSeed % _leases.length];
        if (!lease.wasClosed || lease.signer != vm.addr(tenantKey(0)) && lease.signer != lease.tenant) return;
        vm.prank(lease.tenant);
        try escrow.openLease(lease.leaseId, lease.channel, providerAt(0), 1, vm.getBlockTimestamp() + 1) {
            revert("a closed lease's id opened again");
        } catch {}
    }

    function deposit(uint256 tenantSeed, uint256 amount) external checked {
        amount = bound(amount, 1, MAX_DEPOSIT);
        vm.prank(tenantAt(tenantSeed));
        escrow.deposit(amount);
        ghostIn += amount;
        ghostDeposited += amount;
    }

    function withdrawBalance(uint256 tenantSeed) external checked {
        address leaseTenant = tenantAt(tenantSeed);
        uint256 balance = escrow.tenantBalance(leaseTenant);
        if (balance == 0) return;
        uint256 before = credit.balanceOf(leaseTenant);
        vm.prank(leaseTenant);
        escrow.withdrawBalance();
        require(credit.balanceOf(leaseTenant) == before + balance, "the whole balance is paid out");
        ghostTenantWithdrawn += balance;
    }

    /// @dev Pausing never stops a top-up: tried whether paused or not.
    function topUp(uint256 leaseSeed, uint256 amount) external checked {
        if (_leases.length == 0) return;
        Lease storage lease = _leases[leaseSeed % _leases.length];
        (,, uint256 leaseDeposit,, uint64 expiry, bool closed) = _view(lease);
        if (closed || vm.getBlockTimestamp() > expiry || leaseDeposit >= escrow.MAX_DEPOSIT()) return;
        uint256 room = escrow.MAX_DEPOSIT() - leaseDeposit;
        amount = bound(amount, 1, room < MAX_DEPOSIT ? room : MAX_DEPOSIT);
        uint256 balance = escrow.tenantBalance(lease.tenant);
        uint256 drawn = balance < amount ? balance : amount;
        vm.prank(lease.tenant);
        escrow.topUp(lease.signer, lease.channel, lease.leaseId, amount);
        ghostDrawn += drawn;
        ghostIn += amount - drawn;
    }

    function settle(uint256 leaseSeed, uint256 amount, bool isFinal) external checked {
        if (_leases.length == 0) return;
        Lease storage lease = _leases[leaseSeed % _leases.length];
        (bool valid, uint256 voucherAmount) = _validAmount(lease, amount, isFinal);
        if (!valid) return;
        (bytes32 r, bytes32 vs) = _signVoucher(lease.signerKey, lease.leaseId, lease.channel, voucherAmount, isFinal);
        _signed(lease, voucherAmount);
        escrow.settle(lease.leaseId, lease.channel, voucherAmount, isFinal, r, vs);
    }

    /// @dev The tenant (not a settler) submits its own final voucher: it pays what it says and brings the expiry forward
    /// to now, and the lease stays open for the provider's vouchers until the claim window is over.
    function closeAsTenant(uint256 leaseSeed, uint256 amount) external checked {
        if (_leases.length == 0) return;
        Lease storage lease = _leases[leaseSeed % _leases.length];
        (bool valid, uint256 voucherAmount) = _validAmount(lease, amount, true);
        if (!valid) return;
        (,,, uint256 paid, uint64 expiry,) = _view(lease);
        if (voucherAmount == paid && expiry <= vm.getBlockTimestamp()) return; // closing already: StaleVoucher
        (bytes32 r, bytes32 vs) = _signVoucher(lease.signerKey, lease.leaseId, lease.channel, voucherAmount, true);
        _signed(lease, voucherAmount);
        vm.recordLogs();
        vm.prank(lease.tenant);
        escrow.settle(lease.leaseId, lease.channel, voucherAmount, true, r, vs);
        _checkRuns(vm.getRecordedLogs());
        (,,, uint256 paidAfter, uint64 expiryAfter, bool closed) = _view(lease);
        require(!closed, "a tenant's final voucher does not close at once");
        require(paidAfter == voucherAmount, "it pays what it says");
        uint256 now_ = vm.getBlockTimestamp();
        require(expiryAfter == (expiry < now_ ? expiry : now_), "the expiry comes forward to now, never later");
    }

    /// @dev A batch of up to 6 items: mostly valid vouchers, plus stale ones, ones above the deposit, forged ones,
    /// ones pointed at another channel and vouchers of leases a later lease replaced on their channel.
    function settleBatch(uint256 seed, uint256 count) external checked {
        if (_leases.length == 0) return;
        count = bound(count, 1, 6);
        bytes memory items;
        for (uint256 i; i < count; ++i) {
            uint256 word = uint256(keccak256(abi.encode(seed, i)));
            Lease storage lease = _leases[word % _leases.length];
            bool isFinal = (word >> 64) % 4 == 0;
            uint256 kind = (word >> 72) % 8;
            uint256 amount = (word >> 80) % (2 * MAX_DEPOSIT);
            if (kind == 0) {
                // Forged: someone else's key signs an arbitrary amount.
                uint256 forger = bound(word >> 128, 1, SECP256K1_N - 1);
                if (forger == lease.signerKey) forger = forger == 1 ? 2 : 1;
                items = bytes.concat(items, _packed(lease.leaseId, lease.channel, amount, isFinal, forger));
                continue;
            }
            if (kind == 1) {
                // Any amount the signer signs, valid or not (for a superseded lease: an old voucher): it counts as
                // signed for this lease only.
                if (_pendingIn(lease, items)) continue;
                _signed(lease, amount);
                items = bytes.concat(items, _packed(lease.leaseId, lease.channel, amount, isFinal, lease.signerKey));
                continue;
            }
            if (kind == 2) {
                // Signed by the lease's signer, but for a channel the lease is not on: it must pay nothing.
                uint256 otherChannel = (lease.channel + 1 + (word >> 200) % (CHANNELS - 1)) % CHANNELS;
                items = bytes.concat(items, _packed(lease.leaseId, otherChannel, amount, isFinal, lease.signerKey));
                continue;
            }
            (bool valid, uint256 voucherAmount) = _validAmount(lease, amount, isFinal);
            if (!valid || _pendingIn(lease, items)) continue;
            _signed(lease, voucherAmount);
            items = bytes.concat(items, _packed(lease.leaseId, lease.channel, voucherAmount, isFinal, lease.signerKey));
        }
        if (items.length == 0) return;
        vm.recordLogs();
        escrow.settleBatch(items);
        _checkRuns(vm.getRecordedLogs());
    }

    /// @dev One signer's vouchers for 2 to 6 of its leases under one signature (a VoucherBundle entry): amounts valid
    /// or arbitrary (each counts as signed for its lease, as in settleBatch), or the whole bundle forged by another
    /// key, which must pay nothing.
    function settleBundle(uint256 seed, uint256 count, bool forged) external checked {
        if (_leases.length == 0) return;
        uint256 start = seed % _leases.length;
        uint256 signerKey = _leases[start].signerKey;
        count = bound(count, 2, 6);
        LeaseEscrow.Voucher[] memory vouchers = new LeaseEscrow.Voucher[](count);
        uint256[] memory picked = new uint256[](count);
        uint256 n;
        for (uint256 i; i < _leases.length && n < count; ++i) {
            uint256 index = (start + i) % _leases.length;
            Lease storage lease = _leases[index];
            uint256 word = uint256(keccak256(abi.encode(seed, "bundle", i)));
            // The signer's leases, mostly live ones: a closed or superseded lease now and then.
            if (lease.signerKey != signerKey || lease.wasClosed && word % 4 != 0) continue;
            bool isFinal = (word >> 64) % 4 == 0;
            uint256 amount = (word >> 80) % (2 * MAX_DEPOSIT);
            if ((word >> 72) % 4 != 0) {
                (bool valid, uint256 voucherAmount) = _validAmount(lease, amount, isFinal);
                if (valid) amount = voucherAmount;
            }
            vouchers[n] =
                LeaseEscrow.Voucher({leaseId: lease.leaseId, channel: lease.channel, amount: amount, isFinal: isFinal});
            picked[n++] = index;
        }
        if (n < 2) return;
        assembly ("memory-safe") {
            mstore(vouchers, n)
        }
        uint256 key = signerKey;
        if (forged) {
            key = bound(seed >> 8, 1, SECP256K1_N - 1);
            if (key == signerKey) key = key == 1 ? 2 : 1;
        } else {
            for (uint256 i; i < n; ++i) {
                _signed(_leases[picked[i]], vouchers[i].amount);
            }
        }
        (bytes32 r, bytes32 vs) = _signCompact(key, escrow.hashVoucherBundle(vouchers));
        // The casts are the packed widths: n is at most 6, ids 128-bit, channels small, amounts below 2 * MAX_DEPOSIT.
        // forge-lint: disable-start(unsafe-typecast)
        bytes memory entry = abi.encodePacked(uint8(n), r, vs);
        for (uint256 i; i < n; ++i) {
            LeaseEscrow.Voucher memory voucher = vouchers[i];
            entry = bytes.concat(
                entry,
                abi.encodePacked(
                    uint128(voucher.leaseId),
                    uint32(voucher.channel),
                    voucher.isFinal ? bytes1(0x01) : bytes1(0x00),
                    uint48(voucher.amount)
                )
            );
        }
        // forge-lint: disable-end(unsafe-typecast)
        vm.recordLogs();
        escrow.settleBatch(entry);
        _checkRuns(vm.getRecordedLogs());
    }

    function refund(uint256 leaseSeed) external checked {
        if (_leases.length == 0) return;
        Lease storage lease = _leases[leaseSeed % _leases.length];
        (,, uint256 leaseDeposit, uint256 paid, uint64 expiry, bool closed) = _view(lease);
        if (closed || vm.getBlockTimestamp() <= expiry + escrow.claimWindow()) return;
        uint256 balanceBefore = escrow.tenantBalance(lease.tenant);
        uint256 tokensBefore = credit.balanceOf(lease.tenant);
        escrow.refund(lease.signer, lease.channel, lease.leaseId);
        require(
            escrow.tenantBalance(lease.tenant) == balanceBefore + leaseDeposit - paid, "the refund goes to the balance"
        );
        require(credit.balanceOf(lease.tenant) == tokensBefore, "a refund moves no tokens");
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

    /// @dev After each operation: paid never decreases, closed and superseded leases stay closed, what providers
    /// and fees gained is exactly what leases newly paid, and each lease closing credits its tenant deposit - paid.
    modifier checked() {
        uint256 owedAndFeesBefore = escrow.totalOwed() + escrow.feesAccrued() + ghostWithdrawn + ghostFeesWithdrawn;
        _;
        uint256 newlyPaid;
        for (uint256 i; i < _leases.length; ++i) {
            Lease storage lease = _leases[i];
            (address leaseTenant,, uint256 leaseDeposit, uint256 paid,, bool closed) = _view(lease);
            if (lease.superseded) {
                require(closed && leaseTenant == address(0) && paid == 0, "a superseded lease reads as closed");
                require(lease.wasClosed, "only a closed lease is superseded");
                continue;
            }
            require(paid >= lease.lastPaid, "paid decreased");
            require(closed || !lease.wasClosed, "a closed lease reopened");
            require(leaseDeposit >= lease.lastDeposit, "deposit decreased");
            newlyPaid += paid - lease.lastPaid;
            if (closed && !lease.wasClosed) ghostCreditedToBalances += leaseDeposit - paid;
            lease.lastPaid = paid;
            lease.lastDeposit = leaseDeposit;
            lease.wasClosed = closed;
        }
        require(
            escrow.totalOwed() + escrow.feesAccrued() + ghostWithdrawn + ghostFeesWithdrawn
                == owedAndFeesBefore + newlyPaid,
            "net + fee == delta"
        );
    }

    // ---- helpers ----

    function _view(Lease storage lease) internal view returns (address, address, uint256, uint256, uint64, bool) {
        return escrow.lease(lease.signer, lease.channel, lease.leaseId);
    }

    /// @dev Per provider run of a Settled event: the fee is the sum of each item's delta at its lease's own fee, and
    /// the records are well formed. Called before `checked` moves the leases' last paid on (a batch pays a lease once).
    function _checkRuns(Vm.Log[] memory logs) internal view {
        for (uint256 l; l < logs.length; ++l) {
            if (logs[l].topics[0] != SETTLED_TOPIC || logs[l].emitter != address(escrow)) continue;
            bytes memory records = abi.decode(logs[l].data, (bytes));
            uint256 at;
            while (at < records.length) {
                uint256 items = _uint(records, at + 4, 2);
                uint256 net = _uint(records, at + 6, 8);
                uint256 fee = _uint(records, at + 14, 8);
                uint256 delta;
                uint256 fees;
                for (uint256 i; i < items; ++i) {
                    uint256 item = at + 22 + 30 * i;
                    address signer = address(uint160(_uint(records, item, 20)));
                    Lease storage lease = _leases[_current[signer][_uint(records, item + 20, 4)] - 1];
                    uint256 itemDelta = _uint(records, item + 24, 6) - lease.lastPaid;
                    delta += itemDelta;
                    fees += itemDelta * lease.feeBps / 10_000;
                }
                require(net + fee == delta, "a run's net + fee is what its leases newly paid");
                require(fee == fees, "a run's fee is its leases' own fees");
                at += 22 + 30 * items;
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
        if (lease.superseded) return (false, 0);
        (,, uint256 leaseDeposit, uint256 paid, uint64 expiry, bool closed) = _view(lease);
        if (closed || vm.getBlockTimestamp() > expiry + escrow.claimWindow()) return (false, 0);
        uint256 lowest = isFinal ? paid : paid + 1;
        if (lowest > leaseDeposit) return (false, 0);
        return (true, bound(amount, lowest, leaseDeposit));
    }

    /// @dev Whether `items` already has a voucher for the lease (two for one lease must increase; keep one).
    function _pendingIn(Lease storage lease, bytes memory items) internal view returns (bool) {
        for (uint256 at; at + 92 <= items.length; at += 92) {
            if (_uint(items, at + 65, 16) == lease.leaseId) return true;
        }
        return false;
    }

    function _signed(Lease storage lease, uint256 amount) internal {
        if (amount > lease.maxSigned) lease.maxSigned = amount;
        signedAmount[lease.leaseId][amount] = true;
    }

    function _packed(uint256 leaseId, uint256 channel, uint256 amount, bool isFinal, uint256 key)
        internal
        view
        returns (bytes memory)
    {
        (bytes32 r, bytes32 vs) = _signVoucher(key, leaseId, channel, amount, isFinal);
        // The casts are the packed widths: ids are 128-bit, channels small, amounts below 2 * MAX_DEPOSIT.
        // forge-lint: disable-start(unsafe-typecast)
        return abi.encodePacked(
            bytes1(0x01),
            r,
            vs,
            uint128(leaseId),
            uint32(channel),
            isFinal ? bytes1(0x01) : bytes1(0x00),
            uint48(amount)
        );
        // forge-lint: disable-end(unsafe-typecast)
    }

    function _signVoucher(uint256 key, uint256 leaseId, uint256 channel, uint256 amount, bool isFinal)
        internal
        view
        returns (bytes32, bytes32)
    {
        return _signCompact(
            key,
            escrow.hashVoucher(
                LeaseEscrow.Voucher({leaseId: leaseId, channel: channel, amount: amount, isFinal: isFinal})
            )
        );
    }

    function _signCompact(uint256 key, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, digest);
        return (r_, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }
}
