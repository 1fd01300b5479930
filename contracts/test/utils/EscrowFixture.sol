// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeCredit} from "../../src/ComputeCredit.sol";
import {LeaseEscrow} from "../../src/LeaseEscrow.sol";
import {TestBase} from "./TestBase.sol";
import {Vm} from "./Vm.sol";

/// @dev A credit token, an escrow (owned by the test, 1% fee, one-day claim window), funded tenants who have
/// approved it, and helpers to open leases, sign compact vouchers and pack batches. Each lease a test opens with
/// _open takes its signer's next fresh channel (0, 1, 2, ...) and the fixture remembers it, so tests can name leases
/// by (signer, id) as before; _openOn picks the channel.
abstract contract EscrowFixture is TestBase {
    uint256 internal constant TENANT_KEY = 0xA11CE;
    uint256 internal constant OTHER_TENANT_KEY = 0xB0B;
    uint256 internal constant STRANGER_KEY = 0x5EED;
    uint256 internal constant SESSION_KEY = 0x5E55;

    uint256 internal constant START = 1_750_000_000;
    uint256 internal constant ONE_HOUR = 3600;
    uint256 internal constant CLAIM_WINDOW = 1 days;
    uint256 internal constant FEE_BPS = 100;
    uint256 internal constant DEPOSIT = 100e6; // 100 OCC
    uint256 internal constant TENANT_FUNDS = 1_000_000e6;
    /// @dev Lease ids are 128-bit, like the market's Guids: a tag (the high 64 bits) and a low half.
    uint256 internal constant LEASE = (uint256(1) << 64) | 0xC0FFEE;

    ComputeCredit internal credit;
    LeaseEscrow internal escrow;

    address internal tenant;
    address internal otherTenant;
    address internal stranger;
    address internal sessionKey;
    address internal provider = address(0x9001);
    address internal otherProvider = address(0x9002);

    function setUp() public virtual {
        vm.warp(START);
        credit = new ComputeCredit(address(this));
        escrow = new LeaseEscrow(IERC20(address(credit)), address(this), FEE_BPS, CLAIM_WINDOW);
        // The tests submit vouchers as the market's settlement key does.
        escrow.setSettler(address(this), true);
        tenant = vm.addr(TENANT_KEY);
        otherTenant = vm.addr(OTHER_TENANT_KEY);
        stranger = vm.addr(STRANGER_KEY);
        sessionKey = vm.addr(SESSION_KEY);
        vm.label(tenant, "tenant");
        vm.label(otherTenant, "otherTenant");
        vm.label(stranger, "stranger");
        vm.label(sessionKey, "sessionKey");
        vm.label(provider, "provider");
        vm.label(otherProvider, "otherProvider");
        _fund(tenant);
        _fund(otherTenant);
        _fund(stranger);
    }

    // signer => lease id => channel + 1 (0: not opened through the fixture); signer => its next fresh channel.
    mapping(address => mapping(uint256 => uint256)) internal _channels;
    mapping(address => uint256) internal _nextChannel;

    /// @dev The channel lease `leaseId` of `signer` was opened on, or else the signer's next fresh one.
    function _channel(address signer, uint256 leaseId) internal view returns (uint256) {
        uint256 stored = _channels[signer][leaseId];
        return stored == 0 ? _nextChannel[signer] : stored - 1;
    }

    function _remember(address signer, uint256 leaseId, uint256 channel) internal {
        _channels[signer][leaseId] = channel + 1;
        if (channel >= _nextChannel[signer]) _nextChannel[signer] = channel + 1;
    }

    function _fund(address account) internal {
        credit.mint(account, TENANT_FUNDS);
        vm.prank(account);
        credit.approve(address(escrow), type(uint256).max);
    }

    function _expiry() internal view returns (uint256) {
        return vm.getBlockTimestamp() + ONE_HOUR;
    }

    function _open(uint256 leaseId, address leaseTenant, address leaseProvider, uint256 deposit, uint256 expiry)
        internal
        returns (bytes32 key)
    {
        return _openOn(leaseId, _nextChannel[leaseTenant], leaseTenant, leaseProvider, deposit, expiry);
    }

    function _openOn(
        uint256 leaseId,
        uint256 channel,
        address leaseTenant,
        address leaseProvider,
        uint256 deposit,
        uint256 expiry
    ) internal returns (bytes32 key) {
        vm.prank(leaseTenant);
        key = escrow.openLease(leaseId, channel, leaseProvider, deposit, expiry);
        _remember(leaseTenant, leaseId, channel);
    }

    /// @dev Lease `leaseId`: `tenant` pays `provider`, DEPOSIT escrowed, expiring in an hour.
    function _open(uint256 leaseId) internal returns (bytes32) {
        return _open(leaseId, tenant, provider, DEPOSIT, _expiry());
    }

    function _openWithSessionKey(uint256 leaseId, address leaseTenant, uint256 key)
        internal
        returns (bytes32 leaseKey)
    {
        address signer = vm.addr(key);
        uint256 channel = _nextChannel[signer];
        (bytes32 r, bytes32 vs) = _signCompact(key, escrow.hashSessionKey(leaseTenant, leaseId, channel));
        vm.prank(leaseTenant);
        leaseKey = escrow.openLeaseWithSessionKey(leaseId, channel, provider, DEPOSIT, _expiry(), signer, r, vs);
        _remember(signer, leaseId, channel);
    }

    function _signCompact(uint256 key, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, digest);
        return (r_, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    function _voucherDigest(uint256 leaseId, uint256 channel, uint256 amount, bool isFinal)
        internal
        view
        returns (bytes32)
    {
        return escrow.hashVoucher(
            LeaseEscrow.Voucher({leaseId: leaseId, channel: channel, amount: amount, isFinal: isFinal})
        );
    }

    /// @dev Signs with `key` a voucher for the lease `leaseId` of key's address, on the channel it was opened on.
    function _signVoucher(uint256 key, uint256 leaseId, uint256 amount, bool isFinal)
        internal
        view
        returns (bytes32 r, bytes32 vs)
    {
        return _signCompact(key, _voucherDigest(leaseId, _channel(vm.addr(key), leaseId), amount, isFinal));
    }

    /// @dev Signs a voucher with `key` and settles it alone.
    function _settleSigned(uint256 key, uint256 leaseId, uint256 amount, bool isFinal) internal {
        (bytes32 r, bytes32 vs) = _signVoucher(key, leaseId, amount, isFinal);
        escrow.settle(leaseId, _channel(vm.addr(key), leaseId), amount, isFinal, r, vs);
    }

    function _settle(uint256 leaseId, uint256 amount, bool isFinal) internal {
        _settleSigned(TENANT_KEY, leaseId, amount, isFinal);
    }

    /// @dev One packed settleBatch entry of one voucher, with the given channel and signature.
    function _itemOn(uint256 leaseId, uint256 channel, uint256 amount, bool isFinal, bytes32 r, bytes32 vs)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodePacked(bytes1(0x01), r, vs, _voucherOn(leaseId, channel, amount, isFinal));
    }

    /// @dev One voucher as an entry lists it (after the entry's count and signature).
    function _voucherOn(uint256 leaseId, uint256 channel, uint256 amount, bool isFinal)
        internal
        pure
        returns (bytes memory)
    {
        // The casts are the packed format's widths; callers pass ids below 2^128, channels below 2^32 and amounts
        // below 2^48.
        // forge-lint: disable-start(unsafe-typecast)
        return
            abi.encodePacked(uint128(leaseId), uint32(channel), isFinal ? bytes1(0x01) : bytes1(0x00), uint48(amount));
        // forge-lint: disable-end(unsafe-typecast)
    }

    /// @dev One packed settleBatch entry of several vouchers of `key`'s leases, signed once as a VoucherBundle.
    function _bundle(uint256 key, uint256[] memory leaseIds, uint256[] memory amounts, bool[] memory finals)
        internal
        view
        returns (bytes memory entry)
    {
        LeaseEscrow.Voucher[] memory vouchers = _bundleVouchers(vm.addr(key), leaseIds, amounts, finals);
        (bytes32 r, bytes32 vs) = _signCompact(key, escrow.hashVoucherBundle(vouchers));
        // forge-lint: disable-next-line(unsafe-typecast)
        entry = abi.encodePacked(uint8(leaseIds.length), r, vs);
        for (uint256 i; i < vouchers.length; ++i) {
            entry = bytes.concat(entry, _voucherOn(leaseIds[i], vouchers[i].channel, amounts[i], finals[i]));
        }
    }

    function _bundleVouchers(address signer, uint256[] memory leaseIds, uint256[] memory amounts, bool[] memory finals)
        internal
        view
        returns (LeaseEscrow.Voucher[] memory vouchers)
    {
        vouchers = new LeaseEscrow.Voucher[](leaseIds.length);
        for (uint256 i; i < leaseIds.length; ++i) {
            vouchers[i] = LeaseEscrow.Voucher({
                leaseId: leaseIds[i], channel: _channel(signer, leaseIds[i]), amount: amounts[i], isFinal: finals[i]
            });
        }
    }

    /// @dev One packed settleBatch item for the tenant's lease `leaseId`, with the given signature.
    function _itemWith(uint256 leaseId, uint256 amount, bool isFinal, bytes32 r, bytes32 vs)
        internal
        view
        returns (bytes memory)
    {
        return _itemOn(leaseId, _channel(tenant, leaseId), amount, isFinal, r, vs);
    }

    function _item(uint256 key, uint256 leaseId, uint256 amount, bool isFinal) internal view returns (bytes memory) {
        (bytes32 r, bytes32 vs) = _signVoucher(key, leaseId, amount, isFinal);
        return _itemOn(leaseId, _channel(vm.addr(key), leaseId), amount, isFinal, r, vs);
    }

    function _item(uint256 leaseId, uint256 amount, bool isFinal) internal view returns (bytes memory) {
        return _item(TENANT_KEY, leaseId, amount, isFinal);
    }

    function _state(address signer, uint256 leaseId)
        internal
        view
        returns (uint256 deposit, uint256 paid, bool closed)
    {
        (,, deposit, paid,, closed) = escrow.lease(signer, _channel(signer, leaseId), leaseId);
    }

    function _paid(uint256 leaseId) internal view returns (uint256 paid) {
        (,, paid,) = _lease(tenant, leaseId);
    }

    function _closed(uint256 leaseId) internal view returns (bool closed) {
        (,,, closed) = _lease(tenant, leaseId);
    }

    function _lease(address signer, uint256 leaseId)
        internal
        view
        returns (address leaseTenant, uint256 deposit, uint256 paid, bool closed)
    {
        (leaseTenant,, deposit, paid,, closed) = escrow.lease(signer, _channel(signer, leaseId), leaseId);
    }

    function _fee(uint256 delta) internal pure returns (uint256) {
        return delta * FEE_BPS / 10_000;
    }

    function _assertConservation() internal view {
        vm.assertEq(
            credit.balanceOf(address(escrow)),
            escrow.totalHeld() + escrow.totalOwed() + escrow.feesAccrued(),
            "escrow balance == held for tenants + owed + fees"
        );
    }

    /// @dev A Settled record's runs and items, decoded.
    struct Run {
        uint256 providerId;
        uint256 net;
        uint256 fee;
        bytes32[] keys; // leaseKey(signer, channel) of each item
        address[] signers;
        uint256[] channels;
        uint256[] paid;
    }

    function _decodeRecords(bytes memory records) internal pure returns (Run[] memory runs) {
        uint256 count;
        for (uint256 at; at < records.length; ++count) {
            at += 22 + 30 * _uint(records, at + 4, 2);
        }
        runs = new Run[](count);
        uint256 offset;
        for (uint256 i; i < count; ++i) {
            Run memory run = runs[i];
            run.providerId = _uint(records, offset, 4);
            uint256 items = _uint(records, offset + 4, 2);
            run.net = _uint(records, offset + 6, 8);
            run.fee = _uint(records, offset + 14, 8);
            run.keys = new bytes32[](items);
            run.signers = new address[](items);
            run.channels = new uint256[](items);
            run.paid = new uint256[](items);
            offset += 22;
            for (uint256 j; j < items; ++j) {
                run.signers[j] = address(uint160(_uint(records, offset, 20)));
                run.channels[j] = _uint(records, offset + 20, 4);
                run.keys[j] = keccak256(abi.encodePacked(run.signers[j], uint96(run.channels[j])));
                run.paid[j] = _uint(records, offset + 24, 6);
                offset += 30;
            }
        }
        require(offset == records.length, "records: trailing bytes");
    }

    function _uint(bytes memory data, uint256 at, uint256 size) internal pure returns (uint256 value) {
        require(at + size <= data.length, "records: truncated");
        for (uint256 i; i < size; ++i) {
            value = (value << 8) | uint8(data[at + i]);
        }
    }

    bytes32 internal constant SETTLED_TOPIC = keccak256("Settled(bytes)");
    bytes32 internal constant REJECTED_TOPIC = keccak256("SettleRejected(uint256,uint8)");

    /// @dev The Settled records among recorded logs (at most one per call), and the rejections.
    function _settledRecords()
        internal
        returns (bytes memory records, uint256[] memory rejectedIds, uint8[] memory reasons)
    {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 rejected;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].topics[0] == REJECTED_TOPIC) ++rejected;
        }
        rejectedIds = new uint256[](rejected);
        reasons = new uint8[](rejected);
        rejected = 0;
        for (uint256 i; i < logs.length; ++i) {
            if (logs[i].emitter != address(escrow)) continue;
            if (logs[i].topics[0] == SETTLED_TOPIC) records = abi.decode(logs[i].data, (bytes));
            if (logs[i].topics[0] == REJECTED_TOPIC) {
                rejectedIds[rejected] = uint256(logs[i].topics[1]);
                reasons[rejected++] = abi.decode(logs[i].data, (uint8));
            }
        }
    }
}
