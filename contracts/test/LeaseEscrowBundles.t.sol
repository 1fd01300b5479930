// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {EscrowFixture} from "./utils/EscrowFixture.sol";

/// @dev Voucher bundles: one signature over several of a signer's vouchers (an entry of settleBatch with a count
/// above one). The digest is standard EIP-712, every voucher of a bundle applies as it would alone, and a bundle whose
/// signature does not hold pays nothing at all.
contract LeaseEscrowBundlesTest is EscrowFixture {
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant VOUCHER_TYPEHASH =
        keccak256("Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)");
    bytes32 internal constant BUNDLE_TYPEHASH = keccak256(
        "VoucherBundle(Voucher[] vouchers)Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)"
    );

    function _ids(uint256 a, uint256 b) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](2);
        (ids[0], ids[1]) = (a, b);
    }

    function _ids(uint256 a, uint256 b, uint256 c) internal pure returns (uint256[] memory ids) {
        ids = new uint256[](3);
        (ids[0], ids[1], ids[2]) = (a, b, c);
    }

    function _flags(bool a, bool b) internal pure returns (bool[] memory flags) {
        flags = new bool[](2);
        (flags[0], flags[1]) = (a, b);
    }

    function _flags(bool a, bool b, bool c) internal pure returns (bool[] memory flags) {
        flags = new bool[](3);
        (flags[0], flags[1], flags[2]) = (a, b, c);
    }

    /// @dev The digest as any EIP-712 wallet computes it for VoucherBundle(Voucher[] vouchers), independently of the
    /// contract.
    function _expectedDigest(LeaseEscrow.Voucher[] memory vouchers) internal view returns (bytes32) {
        bytes32[] memory hashes = new bytes32[](vouchers.length);
        for (uint256 i; i < vouchers.length; ++i) {
            hashes[i] = keccak256(
                abi.encode(
                    VOUCHER_TYPEHASH, vouchers[i].leaseId, vouchers[i].channel, vouchers[i].amount, vouchers[i].isFinal
                )
            );
        }
        bytes32 domain = keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("OrleansCompute LeaseEscrow"), keccak256("5"), block.chainid, address(escrow)
            )
        );
        bytes32 structHash = keccak256(abi.encode(BUNDLE_TYPEHASH, keccak256(abi.encodePacked(hashes))));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function testFuzz_hashVoucherBundle_is_the_standard_eip712_digest(uint256 seed, uint8 size) public view {
        uint256 count = bound(size, 2, 12);
        LeaseEscrow.Voucher[] memory vouchers = new LeaseEscrow.Voucher[](count);
        for (uint256 i; i < count; ++i) {
            uint256 word = uint256(keccak256(abi.encode(seed, i)));
            vouchers[i] = LeaseEscrow.Voucher({
                leaseId: word >> 128, channel: word % 1000, amount: (word >> 16) % 1e12, isFinal: word % 3 == 0
            });
        }
        vm.assertEq(escrow.hashVoucherBundle(vouchers), _expectedDigest(vouchers), "digest");
    }

    function test_hashVoucherBundle_takes_two_to_MAX_BUNDLE_vouchers() public {
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BundleSize.selector, 0));
        escrow.hashVoucherBundle(new LeaseEscrow.Voucher[](0));
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BundleSize.selector, 1));
        escrow.hashVoucherBundle(new LeaseEscrow.Voucher[](1));
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BundleSize.selector, 256));
        escrow.hashVoucherBundle(new LeaseEscrow.Voucher[](256));
        escrow.hashVoucherBundle(new LeaseEscrow.Voucher[](escrow.MAX_BUNDLE()));
    }

    function test_a_bundle_pays_each_of_its_leases_as_one_run() public {
        bytes32[] memory keys = new bytes32[](3);
        for (uint256 i; i < 3; ++i) {
            keys[i] = _open(i + 1);
        }
        uint256[] memory amounts = _ids(10e6, 20e6, 30e6);
        bytes memory entry = _bundle(TENANT_KEY, _ids(1, 2, 3), amounts, _flags(false, false, false));
        vm.assertEq(entry.length, 65 + 3 * 27, "one signature, three vouchers");
        vm.recordLogs();
        escrow.settleBatch(entry);
        (bytes memory records, uint256[] memory rejected,) = _settledRecords();
        vm.assertEq(rejected.length, 0, "none rejected");
        Run[] memory runs = _decodeRecords(records);
        vm.assertEq(runs.length, 1, "one run");
        vm.assertEq(runs[0].keys.length, 3, "three items");
        for (uint256 i; i < 3; ++i) {
            vm.assertEq(runs[0].keys[i], keys[i], "key");
            vm.assertEq(runs[0].paid[i], amounts[i], "recorded paid");
            vm.assertEq(_paid(i + 1), amounts[i], "stored paid");
        }
        vm.assertEq(escrow.providerBalance(provider), 60e6 - _fee(60e6), "provider credited the run");
        _assertConservation();
    }

    function test_a_bundle_closes_final_leases_and_credits_their_tenants() public {
        _open(1, tenant, provider, DEPOSIT, _expiry());
        _open(2, tenant, otherProvider, DEPOSIT, _expiry());
        uint256 balanceBefore = escrow.tenantBalance(tenant);
        vm.recordLogs();
        escrow.settleBatch(_bundle(TENANT_KEY, _ids(1, 2), _ids(40e6, 25e6), _flags(true, false)));
        (bytes memory records,,) = _settledRecords();
        vm.assertEq(_decodeRecords(records).length, 2, "a run per provider");
        vm.assertTrue(_closed(1), "final closes");
        vm.assertFalse(_closed(2), "usage voucher leaves it open");
        vm.assertEq(escrow.tenantBalance(tenant), balanceBefore + DEPOSIT - 40e6, "the rest of lease 1 credited");
        vm.assertEq(escrow.providerBalance(provider), 40e6 - _fee(40e6), "provider");
        vm.assertEq(escrow.providerBalance(otherProvider), 25e6 - _fee(25e6), "other provider");
        _assertConservation();
    }

    function test_a_session_key_bundles_the_leases_of_several_tenants() public {
        _openWithSessionKey(1, tenant, SESSION_KEY);
        _openWithSessionKey(2, otherTenant, SESSION_KEY);
        uint256 tenantBefore = escrow.tenantBalance(tenant);
        uint256 otherBefore = escrow.tenantBalance(otherTenant);
        escrow.settleBatch(_bundle(SESSION_KEY, _ids(1, 2), _ids(10e6, 30e6), _flags(true, true)));
        (,, uint256 paid1, bool closed1) = _lease(sessionKey, 1);
        (,, uint256 paid2, bool closed2) = _lease(sessionKey, 2);
        vm.assertEq(paid1, 10e6, "paid 1");
        vm.assertEq(paid2, 30e6, "paid 2");
        vm.assertTrue(closed1 && closed2, "both closed");
        vm.assertEq(escrow.tenantBalance(tenant), tenantBefore + DEPOSIT - 10e6, "refund to the first tenant");
        vm.assertEq(escrow.tenantBalance(otherTenant), otherBefore + DEPOSIT - 30e6, "refund to the second tenant");
        _assertConservation();
    }

    /// @dev A bundle's signature covers every voucher in it: changing one amount leaves a signature of nobody's, so
    /// every voucher of the bundle is refused and nothing changes.
    function test_a_tampered_bundle_pays_nothing() public {
        _open(1);
        _open(2);
        bytes memory entry = _bundle(TENANT_KEY, _ids(1, 2), _ids(10e6, 20e6), _flags(false, false));
        entry[entry.length - 1] = bytes1(uint8(entry[entry.length - 1]) ^ 0x01); // the second amount
        uint256 held = escrow.totalHeld();
        vm.recordLogs();
        escrow.settleBatch(entry);
        (bytes memory records, uint256[] memory rejected, uint8[] memory reasons) = _settledRecords();
        vm.assertEq(records.length, 0, "no Settled");
        vm.assertEq(rejected.length, 2, "both refused");
        vm.assertEq(rejected[0], 1, "first");
        vm.assertEq(rejected[1], 2, "second");
        vm.assertTrue(reasons[0] == 2 && reasons[1] == 2, "UnknownLease: the signature recovers to another address");
        vm.assertEq(_paid(1) + _paid(2), 0, "nothing paid");
        vm.assertEq(escrow.totalHeld(), held, "books unchanged");
        vm.assertEq(escrow.totalOwed(), 0, "nothing owed");
    }

    function test_a_bundle_with_a_high_s_is_refused_whole() public {
        _open(1);
        _open(2);
        bytes memory entry = _bundle(TENANT_KEY, _ids(1, 2), _ids(10e6, 20e6), _flags(false, false));
        // An s above half the curve order (EIP-2): refused before ecrecover, for every voucher of the entry.
        uint256 highS = SECP256K1_N / 2 + 1;
        assembly ("memory-safe") {
            mstore(add(entry, 65), highS) // vs: the entry's bytes 33..65
        }
        vm.recordLogs();
        escrow.settleBatch(entry);
        (bytes memory records, uint256[] memory rejected, uint8[] memory reasons) = _settledRecords();
        vm.assertEq(records.length, 0, "no Settled");
        vm.assertEq(rejected.length, 2, "both refused");
        vm.assertEq(reasons[0], 1, "BadSignature");
        vm.assertEq(reasons[1], 1, "BadSignature");
        vm.assertEq(_paid(1) + _paid(2), 0, "nothing paid");
    }

    function test_a_bundle_signed_by_someone_else_pays_nothing() public {
        _open(1);
        _open(2);
        // The stranger signs vouchers naming the tenant's leases and channels: they can only name its own channels.
        LeaseEscrow.Voucher[] memory vouchers =
            _bundleVouchers(tenant, _ids(1, 2), _ids(10e6, 20e6), _flags(true, true));
        (bytes32 r, bytes32 vs) = _signCompact(STRANGER_KEY, escrow.hashVoucherBundle(vouchers));
        bytes memory entry = bytes.concat(
            abi.encodePacked(uint8(2), r, vs),
            _voucherOn(1, vouchers[0].channel, 10e6, true),
            _voucherOn(2, vouchers[1].channel, 20e6, true)
        );
        vm.recordLogs();
        escrow.settleBatch(entry);
        (, uint256[] memory rejected, uint8[] memory reasons) = _settledRecords();
        vm.assertTrue(rejected.length == 2 && reasons[0] == 2 && reasons[1] == 2, "UnknownLease for both");
        vm.assertFalse(_closed(1) || _closed(2), "still open");
        vm.assertEq(_paid(1) + _paid(2), 0, "nothing paid");
    }

    /// @dev Inside a bundle each voucher is still judged alone: a stale one is skipped, one above its deposit is
    /// refused, the rest apply.
    function test_each_voucher_of_a_bundle_applies_or_not_on_its_own() public {
        _open(1);
        _open(2);
        _open(3);
        _settle(1, 30e6, false);
        vm.recordLogs();
        escrow.settleBatch(
            _bundle(TENANT_KEY, _ids(1, 2, 3), _ids(20e6, DEPOSIT + 1, 15e6), _flags(false, false, false))
        );
        (bytes memory records, uint256[] memory rejected, uint8[] memory reasons) = _settledRecords();
        vm.assertEq(rejected.length, 1, "one refused");
        vm.assertEq(rejected[0], 2, "the one above its deposit");
        vm.assertEq(reasons[0], 4, "ExceedsDeposit");
        Run[] memory runs = _decodeRecords(records);
        vm.assertEq(runs[0].keys.length, 1, "only lease 3 applied");
        vm.assertEq(_paid(1), 30e6, "stale skipped");
        vm.assertEq(_paid(2), 0, "refused");
        vm.assertEq(_paid(3), 15e6, "applied");
        _assertConservation();
    }

    function test_a_replayed_bundle_changes_nothing() public {
        _open(1);
        _open(2);
        bytes memory entry = _bundle(TENANT_KEY, _ids(1, 2), _ids(10e6, 20e6), _flags(true, false));
        escrow.settleBatch(entry);
        uint256 owed = escrow.totalOwed();
        uint256 balance = escrow.tenantBalance(tenant);
        vm.recordLogs();
        escrow.settleBatch(entry);
        (bytes memory records, uint256[] memory rejected,) = _settledRecords();
        vm.assertEq(records.length, 0, "no Settled");
        vm.assertEq(rejected.length, 0, "stale, not refused");
        vm.assertEq(escrow.totalOwed(), owed, "owed");
        vm.assertEq(escrow.tenantBalance(tenant), balance, "no second refund");
    }

    function test_single_and_bundled_entries_mix_in_one_batch() public {
        for (uint256 i; i < 4; ++i) {
            _open(i + 1);
        }
        _openWithSessionKey(5, otherTenant, SESSION_KEY);
        _openWithSessionKey(6, otherTenant, SESSION_KEY);
        escrow.settleBatch(
            bytes.concat(
                _item(1, 5e6, false),
                _bundle(TENANT_KEY, _ids(2, 3), _ids(6e6, 7e6), _flags(false, true)),
                _bundle(SESSION_KEY, _ids(5, 6), _ids(8e6, 9e6), _flags(false, false)),
                _item(4, 10e6, true)
            )
        );
        vm.assertEq(_paid(1), 5e6, "single");
        vm.assertEq(_paid(2), 6e6, "bundle");
        vm.assertEq(_paid(3), 7e6, "bundle, final");
        vm.assertEq(_paid(4), 10e6, "single, final");
        (,, uint256 paid5,) = _lease(sessionKey, 5);
        (,, uint256 paid6,) = _lease(sessionKey, 6);
        vm.assertEq(paid5 + paid6, 17e6, "session key's bundle");
        vm.assertEq(escrow.providerBalance(provider), 45e6 - _fee(45e6), "one provider, one run");
        _assertConservation();
    }

    /// @dev A bundle and the same vouchers signed one by one reach the same state, for any mix of valid, stale,
    /// over-deposit and final vouchers.
    function testFuzz_a_bundle_matches_its_vouchers_one_by_one(uint256 seed) public {
        uint256 leases = 6;
        for (uint256 i; i < leases; ++i) {
            _open(i + 1, tenant, i % 3 == 0 ? otherProvider : provider, DEPOSIT, _expiry());
        }
        _settle(1, 20e6, false);
        uint256 count = bound(seed, 2, leases);
        uint256[] memory ids = new uint256[](count);
        uint256[] memory amounts = new uint256[](count);
        bool[] memory finals = new bool[](count);
        for (uint256 i; i < count; ++i) {
            uint256 word = uint256(keccak256(abi.encode(seed, i)));
            ids[i] = i + 1;
            amounts[i] = (word >> 8) % (DEPOSIT + DEPOSIT / 4);
            finals[i] = (word >> 100) % 3 == 0;
        }
        uint256 snapshot = vm.snapshotState();
        escrow.settleBatch(_bundle(TENANT_KEY, ids, amounts, finals));
        uint256[] memory paid = new uint256[](leases);
        bool[] memory closed = new bool[](leases);
        for (uint256 i; i < leases; ++i) {
            (, paid[i], closed[i]) = _state(tenant, i + 1);
        }
        uint256 owed = escrow.totalOwed();
        uint256 balance = escrow.tenantBalance(tenant);
        _assertConservation();

        vm.revertToState(snapshot);
        bytes memory singles;
        for (uint256 i; i < count; ++i) {
            singles = bytes.concat(singles, _item(ids[i], amounts[i], finals[i]));
        }
        escrow.settleBatch(singles);
        for (uint256 i; i < leases; ++i) {
            (, uint256 singlePaid, bool singleClosed) = _state(tenant, i + 1);
            vm.assertEq(singlePaid, paid[i], "paid");
            vm.assertEq(singleClosed, closed[i], "closed");
        }
        vm.assertEq(escrow.totalOwed(), owed, "owed");
        vm.assertEq(escrow.tenantBalance(tenant), balance, "refunds");
    }
}
