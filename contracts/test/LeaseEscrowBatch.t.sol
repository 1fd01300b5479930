// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {EscrowFixture} from "./utils/EscrowFixture.sol";

/// @dev settleBatch: many leases and providers per call, stale items skipped, invalid items reported and never
/// partly applied, provider credits aggregated over consecutive items, and the same outcome as settle() one by one.
contract LeaseEscrowBatchTest is EscrowFixture {
    function _batch(bytes memory a, bytes memory b) internal pure returns (bytes memory) {
        return bytes.concat(a, b);
    }

    function test_settleBatch_rejects_an_empty_or_ragged_batch() public {
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.MalformedBatch.selector, 0));
        escrow.settleBatch("");
        _open(1);
        bytes memory item = _item(1, 1e6, false);
        vm.assertEq(item.length, escrow.BATCH_ENTRY_HEADER_SIZE() + escrow.BATCH_ITEM_SIZE(), "an entry of one");
        // A trailing byte is an entry of no vouchers; a zero count anywhere is malformed.
        bytes memory ragged = bytes.concat(item, hex"00");
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.MalformedBatch.selector, ragged.length));
        escrow.settleBatch(ragged);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.MalformedBatch.selector, 92));
        escrow.settleBatch(new bytes(92));
        // An entry cut short: one byte missing, or a count above the vouchers that follow.
        bytes memory short = new bytes(item.length - 1);
        for (uint256 i; i < short.length; ++i) {
            short[i] = item[i];
        }
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.MalformedBatch.selector, short.length));
        escrow.settleBatch(short);
        bytes memory overCounted = bytes.concat(item);
        overCounted[0] = 0x02;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.MalformedBatch.selector, overCounted.length));
        escrow.settleBatch(overCounted);
        vm.assertEq(_paid(1), 0, "nothing paid");
    }

    function test_settleBatch_pays_many_leases_of_one_provider_as_one_run() public {
        bytes memory items;
        bytes32[] memory keys = new bytes32[](3);
        for (uint256 i; i < 3; ++i) {
            keys[i] = _open(i + 1);
            items = bytes.concat(items, _item(i + 1, (i + 1) * 10e6, false));
        }
        vm.recordLogs();
        escrow.settleBatch(items);
        (bytes memory records, uint256[] memory rejected,) = _settledRecords();
        vm.assertEq(rejected.length, 0, "none rejected");
        Run[] memory runs = _decodeRecords(records);
        vm.assertEq(runs.length, 1, "one run");
        vm.assertEq(runs[0].providerId, 1, "provider");
        vm.assertEq(runs[0].keys.length, 3, "three items");
        vm.assertEq(runs[0].fee, _fee(60e6), "fee on the run's total");
        vm.assertEq(runs[0].net, 60e6 - _fee(60e6), "net");
        for (uint256 i; i < 3; ++i) {
            vm.assertEq(runs[0].keys[i], keys[i], "key");
            vm.assertEq(runs[0].paid[i], (i + 1) * 10e6, "paid");
            vm.assertEq(_paid(i + 1), (i + 1) * 10e6, "stored paid");
        }
        vm.assertEq(escrow.providerBalance(provider), runs[0].net, "provider credited once");
        _assertConservation();
    }

    function test_settleBatch_opens_a_run_per_change_of_provider() public {
        _open(1, tenant, provider, DEPOSIT, _expiry());
        _open(2, tenant, otherProvider, DEPOSIT, _expiry());
        _open(3, tenant, provider, DEPOSIT, _expiry());
        vm.recordLogs();
        escrow.settleBatch(bytes.concat(_item(1, 1e6, false), _item(2, 2e6, false), _item(3, 3e6, false)));
        (bytes memory records,,) = _settledRecords();
        Run[] memory runs = _decodeRecords(records);
        vm.assertEq(runs.length, 3, "provider, other, provider");
        vm.assertEq(runs[0].providerId, 1, "first");
        vm.assertEq(runs[1].providerId, 2, "second");
        vm.assertEq(runs[2].providerId, 1, "third");
        vm.assertEq(escrow.providerBalance(provider), runs[0].net + runs[2].net, "provider: both runs");
        vm.assertEq(escrow.providerBalance(otherProvider), runs[1].net, "other provider");
        vm.assertEq(escrow.feesAccrued(), runs[0].fee + runs[1].fee + runs[2].fee, "fees");
        _assertConservation();
    }

    function test_settleBatch_reports_each_invalid_item_and_applies_the_rest() public {
        _open(1);
        _open(2);
        _open(3);
        _open(4, tenant, provider, DEPOSIT, vm.getBlockTimestamp() + 1);
        _open(5);
        _settle(5, 1e6, true);
        vm.warp(vm.getBlockTimestamp() + 1 + CLAIM_WINDOW + 1);
        _open(6, tenant, provider, DEPOSIT, _expiry());
        _open(7, tenant, provider, DEPOSIT, _expiry());

        bytes memory items = bytes.concat(
            _itemWith(1, 1e6, false, bytes32(0), bytes32(0)), // malformed signature
            _item(STRANGER_KEY, 2, 1e6, false), // not the lease's signer: no such lease
            _item(3, DEPOSIT + 1, false), // above the deposit
            _item(4, 1e6, false), // after expiry + claim window
            _item(5, 2e6, false), // closed by a final voucher
            _item(6, 6e6, false) // valid
        );
        // An s above half the curve order (the compact form can carry those up to 2^255).
        (bytes32 r,) = _signVoucher(TENANT_KEY, 7, 7e6, false);
        items = bytes.concat(items, _itemWith(7, 7e6, false, r, bytes32(SECP256K1_N / 2 + 1)));

        vm.recordLogs();
        escrow.settleBatch(items);
        (bytes memory records, uint256[] memory ids, uint8[] memory reasons) = _settledRecords();
        vm.assertEq(ids.length, 6, "six rejected");
        uint8[6] memory expected = [
            escrow.REJECT_BAD_SIGNATURE(),
            escrow.REJECT_UNKNOWN_LEASE(),
            escrow.REJECT_EXCEEDS_DEPOSIT(),
            escrow.REJECT_CLAIM_WINDOW_OVER(),
            escrow.REJECT_LEASE_CLOSED(),
            escrow.REJECT_BAD_SIGNATURE()
        ];
        uint256[6] memory expectedIds = [uint256(1), 2, 3, 4, 5, 7];
        for (uint256 i; i < 6; ++i) {
            vm.assertEq(ids[i], expectedIds[i], "rejected id");
            vm.assertEq(reasons[i], expected[i], "reason");
        }
        Run[] memory runs = _decodeRecords(records);
        vm.assertEq(runs.length, 1, "one run");
        vm.assertEq(runs[0].keys.length, 1, "only lease 6 applied");
        vm.assertEq(_paid(6), 6e6, "lease 6 paid");
        for (uint256 i = 1; i <= 4; ++i) {
            vm.assertEq(_paid(i), 0, "rejected leases untouched");
        }
        vm.assertEq(_paid(7), 0, "high-s twin rejected");
        _assertConservation();
    }

    function test_settleBatch_skips_stale_items_silently() public {
        _open(1);
        _open(2);
        bytes memory items = bytes.concat(_item(1, 10e6, false), _item(2, 20e6, true));
        escrow.settleBatch(items);
        uint256 balance = escrow.providerBalance(provider);

        vm.recordLogs();
        escrow.settleBatch(items); // the same batch again: every item stale
        (bytes memory records, uint256[] memory rejected,) = _settledRecords();
        vm.assertEq(records.length, 0, "no Settled event");
        vm.assertEq(rejected.length, 0, "no rejection either");
        vm.assertEq(escrow.providerBalance(provider), balance, "nothing paid twice");
        _assertConservation();
    }

    function test_settleBatch_with_nothing_applicable_changes_nothing() public {
        _open(1);
        uint256 escrowed = escrow.totalHeld();
        escrow.settleBatch(_item(STRANGER_KEY, 1, 1e6, false));
        vm.assertEq(escrow.totalHeld(), escrowed, "books untouched");
        vm.assertEq(_paid(1), 0, "nothing paid");
    }

    function test_settleBatch_applies_two_vouchers_for_one_lease_in_order() public {
        _open(1);
        escrow.settleBatch(bytes.concat(_item(1, 10e6, false), _item(1, 30e6, false), _item(1, 20e6, false)));
        vm.assertEq(_paid(1), 30e6, "the increasing ones apply, the lower one is stale");
        vm.assertEq(escrow.providerBalance(provider) + escrow.feesAccrued(), 30e6, "paid once");
    }

    function test_settleBatch_final_items_close_and_credit_the_tenants() public {
        bytes32 key1 = _open(1);
        _openWithSessionKey(2, otherTenant, SESSION_KEY);
        uint256 tenantBefore = credit.balanceOf(tenant);
        escrow.settleBatch(bytes.concat(_item(1, 10e6, true), _item(SESSION_KEY, 2, 25e6, true)));
        vm.assertTrue(_closed(1), "closed");
        (,,, bool closed2) = _lease(sessionKey, 2);
        vm.assertTrue(closed2, "session lease closed");
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT - 10e6, "tenant credited");
        vm.assertEq(escrow.tenantBalance(otherTenant), DEPOSIT - 25e6, "session lease's tenant credited");
        vm.assertEq(escrow.tenantBalance(sessionKey), 0, "not the session key");
        vm.assertEq(credit.balanceOf(tenant), tenantBefore, "no tokens leave: refunds are withdrawn by pull");
        vm.assertEq(escrow.totalHeld(), 2 * DEPOSIT - 35e6, "held: the two balances");
        vm.assertTrue(key1 != bytes32(0), "key");
        _assertConservation();
    }

    function test_settleBatch_is_not_paused() public {
        _open(1);
        escrow.setPaused(true);
        escrow.settleBatch(_item(1, 1e6, false));
        vm.assertEq(_paid(1), 1e6, "settled while paused");
    }

    function test_settleBatch_aggregates_across_packed_provider_lanes() public {
        // Providers 1..6 span two balance words; each must get exactly its own credit.
        for (uint256 i; i < 6; ++i) {
            _open(i + 1, tenant, address(uint160(0xB000 + i)), DEPOSIT, _expiry());
        }
        bytes memory items;
        for (uint256 i; i < 6; ++i) {
            items = bytes.concat(items, _item(i + 1, (i + 1) * 1e6, false));
        }
        escrow.settleBatch(items);
        uint256 total;
        for (uint256 i; i < 6; ++i) {
            uint256 delta = (i + 1) * 1e6;
            vm.assertEq(escrow.providerBalance(address(uint160(0xB000 + i))), delta - _fee(delta), "own lane");
            total += delta;
        }
        vm.assertEq(escrow.totalOwed() + escrow.feesAccrued(), total, "owed + fees == paid");
        _assertConservation();
    }

    /// @dev settleBatch and settle() one by one reach the same state (up to fee rounding per run) for any
    /// mix of valid, stale, over-deposit and foreign items.
    function testFuzz_settleBatch_matches_settle_one_by_one(uint256 seed) public {
        uint256 leases = 4;
        for (uint256 i; i < leases; ++i) {
            _open(i + 1, tenant, i % 2 == 0 ? provider : otherProvider, DEPOSIT, _expiry());
        }
        uint256 snapshot = _snapshotState();
        bytes memory items;
        uint256 count = bound(seed, 1, 8);
        uint256[] memory ids = new uint256[](count);
        uint256[] memory amounts = new uint256[](count);
        bool[] memory finals = new bool[](count);
        uint256[] memory keys = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            uint256 word = uint256(keccak256(abi.encode(seed, i)));
            ids[i] = word % leases + 1;
            amounts[i] = (word >> 8) % (DEPOSIT + DEPOSIT / 4);
            finals[i] = (word >> 100) % 5 == 0;
            keys[i] = (word >> 120) % 6 == 0 ? STRANGER_KEY : TENANT_KEY;
            items = bytes.concat(items, _item(keys[i], ids[i], amounts[i], finals[i]));
        }
        escrow.settleBatch(items);
        uint256[] memory batchPaid = new uint256[](leases);
        bool[] memory batchClosed = new bool[](leases);
        for (uint256 i; i < leases; ++i) {
            (, batchPaid[i], batchClosed[i]) = _state(tenant, i + 1);
        }
        uint256 batchOwedAndFees = escrow.totalOwed() + escrow.feesAccrued();
        uint256 batchTenant = escrow.tenantBalance(tenant);

        vm.revertToState(snapshot);
        for (uint256 i; i < count; ++i) {
            (bytes32 r, bytes32 vs) = _signVoucher(keys[i], ids[i], amounts[i], finals[i]);
            try escrow.settle(ids[i], _channel(tenant, ids[i]), amounts[i], finals[i], r, vs) {} catch {}
        }
        for (uint256 i; i < leases; ++i) {
            (, uint256 paid, bool closed) = _state(tenant, i + 1);
            vm.assertEq(paid, batchPaid[i], "paid");
            vm.assertEq(closed, batchClosed[i], "closed");
        }
        vm.assertEq(escrow.totalOwed() + escrow.feesAccrued(), batchOwedAndFees, "owed + fees");
        vm.assertEq(escrow.tenantBalance(tenant), batchTenant, "refunds");
        _assertConservation();
    }

    function _snapshotState() internal returns (uint256) {
        return vm.snapshotState();
    }

    function test_settleBatch_from_anyone_but_a_settler_refuses_final_items_and_applies_the_rest() public {
        _open(1);
        _open(2);
        bytes memory items = bytes.concat(_item(1, 3e6, true), _item(2, 4e6, false));

        // A tenant closing its own lease for less than it owes, ahead of the provider's vouchers, is what this stops.
        vm.recordLogs();
        vm.prank(tenant);
        escrow.settleBatch(items);
        (, uint256[] memory ids, uint8[] memory reasons) = _settledRecords();
        vm.assertEq(ids.length, 1, "one refused");
        vm.assertEq(ids[0], 1, "the final one");
        vm.assertEq(reasons[0], escrow.REJECT_NOT_SETTLER(), "reason");
        vm.assertFalse(_closed(1), "still open");
        vm.assertEq(_paid(1), 0, "nothing paid");
        vm.assertEq(_paid(2), 4e6, "a voucher that is not final counts from anyone");

        // The market's settlement key then closes it.
        escrow.settleBatch(_item(1, 3e6, true));
        vm.assertTrue(_closed(1), "closed by the settler");
        _assertConservation();
    }
}
