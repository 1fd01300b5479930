// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {EscrowFixture} from "./utils/EscrowFixture.sol";

/// @dev v3's two ideas: recycled lease words (a signer's channels, each taking a new lease only after its last closed
/// and only with a higher tag) and tenant balances (refunds land there, opens and top-ups draw on them, tenants
/// withdraw them by pull).
contract LeaseEscrowChannelsTest is EscrowFixture {
    event Deposited(address indexed tenant, uint256 amount);
    event BalanceWithdrawn(address indexed tenant, uint256 amount);

    uint256 internal constant LATER = LEASE + (uint256(1) << 64); // the same low half, the next tag
    uint256 internal constant EARLIER = LEASE - (uint256(1) << 64);

    function _deposit(address who, uint256 amount) internal {
        vm.prank(who);
        escrow.deposit(amount);
    }

    /// @dev Opens LEASE on channel 0 and closes it with a final voucher for `paid`: the rest goes to the balance.
    function _openAndClose(uint256 paid) internal returns (bytes32 key) {
        key = _openOn(LEASE, 0, tenant, provider, DEPOSIT, _expiry());
        _settle(LEASE, paid, true);
    }

    // ---- deposit and withdrawBalance ----

    function test_deposit_adds_to_the_balance_and_the_held_total() public {
        vm.expectEmit();
        emit Deposited(tenant, 7e6);
        _deposit(tenant, 7e6);
        vm.assertEq(escrow.tenantBalance(tenant), 7e6, "balance");
        vm.assertEq(escrow.totalHeld(), 7e6, "held");
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS - 7e6, "pulled from the wallet");
        _assertConservation();
    }

    function test_deposit_misuse_reverts_by_name_and_changes_nothing() public {
        vm.prank(tenant);
        vm.expectRevert(LeaseEscrow.ZeroDeposit.selector);
        escrow.deposit(0);
        vm.prank(tenant);
        credit.approve(address(escrow), 1);
        vm.prank(tenant);
        vm.expectRevert();
        escrow.deposit(2);
        // More than the held total could ever hold: named, before any balance adds up (it would overflow).
        vm.prank(tenant);
        vm.expectRevert(LeaseEscrow.BalanceOverflow.selector);
        escrow.deposit(type(uint256).max);
        vm.assertEq(escrow.tenantBalance(tenant) + escrow.totalHeld(), 0, "nothing changed");
    }

    function test_deposit_is_not_paused() public {
        escrow.setPaused(true);
        _deposit(tenant, 1e6);
        vm.assertEq(escrow.tenantBalance(tenant), 1e6, "deposited while paused");
    }

    function test_withdrawBalance_pays_the_whole_balance_and_only_to_its_owner() public {
        _openAndClose(30e6);
        _deposit(tenant, 5e6);
        uint256 balance = DEPOSIT - 30e6 + 5e6;
        vm.assertEq(escrow.tenantBalance(tenant), balance, "refund and deposit");
        vm.prank(stranger);
        vm.expectRevert(LeaseEscrow.NothingToWithdraw.selector);
        escrow.withdrawBalance();

        vm.expectEmit();
        emit BalanceWithdrawn(tenant, balance);
        vm.prank(tenant);
        escrow.withdrawBalance();
        vm.assertEq(escrow.tenantBalance(tenant), 0, "emptied");
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS - 30e6, "the tenant paid 30 in all");
        vm.assertEq(escrow.totalHeld(), 0, "held");
        _assertConservation();
        vm.prank(tenant);
        vm.expectRevert(LeaseEscrow.NothingToWithdraw.selector);
        escrow.withdrawBalance();
    }

    function test_withdrawBalance_is_not_paused() public {
        _deposit(tenant, 1e6);
        escrow.setPaused(true);
        vm.prank(tenant);
        escrow.withdrawBalance();
        vm.assertEq(escrow.tenantBalance(tenant), 0, "withdrawn while paused");
    }

    // ---- opens and top-ups draw on the balance ----

    function test_openLease_draws_the_whole_deposit_from_a_sufficient_balance() public {
        _deposit(tenant, 2 * DEPOSIT);
        uint256 wallet = credit.balanceOf(tenant);
        uint256 held = escrow.totalHeld();
        vm.prank(tenant);
        credit.approve(address(escrow), 0); // no allowance needed
        _open(LEASE);
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT, "drawn");
        vm.assertEq(credit.balanceOf(tenant), wallet, "no transfer");
        vm.assertEq(escrow.totalHeld(), held, "held unchanged: balance to escrow");
        _assertConservation();
    }

    function test_openLease_pulls_only_what_the_balance_lacks() public {
        _deposit(tenant, 30e6);
        uint256 wallet = credit.balanceOf(tenant);
        _open(LEASE);
        vm.assertEq(escrow.tenantBalance(tenant), 0, "balance used up");
        vm.assertEq(credit.balanceOf(tenant), wallet - (DEPOSIT - 30e6), "the shortfall pulled");
        vm.assertEq(escrow.totalHeld(), DEPOSIT, "held");
        _assertConservation();
    }

    function test_topUp_draws_on_the_balance_first() public {
        _open(LEASE);
        _deposit(tenant, 3e6);
        uint256 wallet = credit.balanceOf(tenant);
        vm.prank(tenant);
        escrow.topUp(tenant, 0, LEASE, 5e6);
        vm.assertEq(escrow.tenantBalance(tenant), 0, "balance drawn");
        vm.assertEq(credit.balanceOf(tenant), wallet - 2e6, "the rest pulled");
        (, uint256 deposit,,) = _lease(tenant, LEASE);
        vm.assertEq(deposit, DEPOSIT + 5e6, "deposit");
        _assertConservation();
    }

    function testFuzz_open_draws_min_of_balance_and_deposit(uint256 balance, uint256 deposit) public {
        balance = bound(balance, 1, 2 * DEPOSIT);
        deposit = bound(deposit, 1, 2 * DEPOSIT);
        _deposit(tenant, balance);
        uint256 wallet = credit.balanceOf(tenant);
        _open(LEASE, tenant, provider, deposit, _expiry());
        uint256 drawn = balance < deposit ? balance : deposit;
        vm.assertEq(escrow.tenantBalance(tenant), balance - drawn, "balance");
        vm.assertEq(credit.balanceOf(tenant), wallet - (deposit - drawn), "wallet");
        _assertConservation();
    }

    // ---- recycled channels ----

    function test_a_closed_channel_takes_a_later_lease_and_the_earlier_reads_as_closed() public {
        bytes32 key = _openAndClose(10e6);
        bytes32 again = _openOn(LATER, 0, tenant, otherProvider, DEPOSIT / 2, _expiry());
        vm.assertEq(again, key, "the same word");

        (address leaseTenant, address leaseProvider, uint256 deposit, uint256 paid, uint64 expiry, bool closed) =
            escrow.lease(tenant, 0, LEASE);
        vm.assertTrue(closed, "superseded reads as closed");
        vm.assertEq(leaseTenant, address(0), "its fields are gone with the word");
        vm.assertEq(leaseProvider, address(0), "provider");
        vm.assertEq(deposit + paid + expiry, 0, "amounts");

        (leaseTenant, leaseProvider, deposit, paid,, closed) = escrow.lease(tenant, 0, LATER);
        vm.assertEq(leaseTenant, tenant, "the new lease");
        vm.assertEq(leaseProvider, otherProvider, "its provider");
        vm.assertEq(deposit, DEPOSIT / 2, "its deposit, drawn from the refund");
        vm.assertEq(paid, 0, "nothing paid yet");
        vm.assertFalse(closed, "open");
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT - 10e6 - DEPOSIT / 2, "drawn on the refund");
        _assertConservation();
    }

    function test_reopening_with_an_id_not_after_the_last_reverts_StaleLeaseId() public {
        bytes32 key = _openAndClose(1e6);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleLeaseId.selector, key, LEASE, LEASE >> 64));
        _openOn(LEASE, 0, tenant, provider, DEPOSIT, _expiry());
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleLeaseId.selector, key, EARLIER, LEASE >> 64));
        _openOn(EARLIER, 0, tenant, provider, DEPOSIT, _expiry());
        // Another low half with the same tag is the same tag: refused too.
        uint256 sameTag = (LEASE >> 64 << 64) | 0xBEEF;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleLeaseId.selector, key, sameTag, LEASE >> 64));
        _openOn(sameTag, 0, tenant, provider, DEPOSIT, _expiry());
    }

    function test_a_refunded_channel_is_free_again() public {
        _openOn(LEASE, 0, tenant, provider, DEPOSIT, _expiry());
        vm.warp(_expiry() + CLAIM_WINDOW + 1);
        escrow.refund(tenant, 0, LEASE);
        _openOn(LATER, 0, tenant, provider, DEPOSIT, _expiry());
        (,,,, bool closed) = _stateOf(LATER);
        vm.assertFalse(closed, "the later lease is open");
    }

    function test_old_vouchers_never_pay_the_channels_later_lease() public {
        bytes32 key = _openAndClose(10e6);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 20e6, false);
        _openOn(LATER, 0, tenant, provider, DEPOSIT, _expiry());

        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, key));
        escrow.settle(LEASE, 0, 20e6, false, r, vs);

        vm.recordLogs();
        escrow.settleBatch(_itemOn(LEASE, 0, 20e6, false, r, vs));
        (bytes memory records, uint256[] memory ids, uint8[] memory reasons) = _settledRecords();
        vm.assertEq(records.length, 0, "nothing applied");
        vm.assertEq(ids.length, 1, "one rejection");
        vm.assertEq(ids[0], LEASE, "names the old lease");
        vm.assertEq(reasons[0], escrow.REJECT_LEASE_REPLACED(), "replaced");
        (,,, uint256 paid,,) = escrow.lease(tenant, 0, LATER);
        vm.assertEq(paid, 0, "the later lease is unpaid");
    }

    function test_a_voucher_for_a_lease_not_yet_on_its_channel_is_unknown() public {
        _openOn(LEASE, 0, tenant, provider, DEPOSIT, _expiry());
        (bytes32 r, bytes32 vs) = _signCompact(TENANT_KEY, _voucherDigest(LATER, 0, 1e6, false));
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, tenant, LATER));
        escrow.settle(LATER, 0, 1e6, false, r, vs);

        vm.recordLogs();
        escrow.settleBatch(_itemOn(LATER, 0, 1e6, false, r, vs));
        (, uint256[] memory ids, uint8[] memory reasons) = _settledRecords();
        vm.assertEq(ids.length, 1, "rejected");
        vm.assertEq(reasons[0], escrow.REJECT_UNKNOWN_LEASE(), "unknown");
    }

    function test_refund_and_topUp_of_a_superseded_lease_revert_LeaseAlreadyClosed() public {
        bytes32 key = _openAndClose(1e6);
        _openOn(LATER, 0, tenant, provider, DEPOSIT, _expiry());
        vm.warp(_expiry() + CLAIM_WINDOW + 1);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, key));
        escrow.refund(tenant, 0, LEASE);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, tenant, LATER + (uint256(1) << 64)));
        escrow.refund(tenant, 0, LATER + (uint256(1) << 64));
        vm.prank(tenant);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, key));
        escrow.topUp(tenant, 0, LEASE, 1);
    }

    function test_channels_above_the_cap_revert_ChannelTooLarge_and_read_as_nothing() public {
        uint256 wide = escrow.MAX_CHANNEL() + 1;
        (bytes32 r, bytes32 vs) = _signCompact(TENANT_KEY, _voucherDigest(LEASE, wide, 1, false));
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ChannelTooLarge.selector, wide));
        escrow.settle(LEASE, wide, 1, false, r, vs);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ChannelTooLarge.selector, wide));
        escrow.refund(tenant, wide, LEASE);
        (address leaseTenant,,,,, bool closed) = escrow.lease(tenant, wide, LEASE);
        vm.assertEq(leaseTenant, address(0), "nothing");
        vm.assertFalse(closed, "not closed either");
    }

    function test_a_session_keys_channel_is_recycled_for_another_tenant_with_fresh_consent() public {
        _openWithSessionKey(LEASE, tenant, SESSION_KEY); // the session key's channel 0
        _settleSigned(SESSION_KEY, LEASE, 5e6, true);
        (bytes32 r, bytes32 vs) = _signCompact(SESSION_KEY, escrow.hashSessionKey(otherTenant, LATER, 0));
        vm.prank(otherTenant);
        escrow.openLeaseWithSessionKey(LATER, 0, provider, DEPOSIT, _expiry(), sessionKey, r, vs);
        (address leaseTenant,,,,,) = escrow.lease(sessionKey, 0, LATER);
        vm.assertEq(leaseTenant, otherTenant, "the new tenant");
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT - 5e6, "the first tenant's refund stays its own");
        // The old consent cannot be replayed for the channel's next lease.
        (r, vs) = _signCompact(SESSION_KEY, escrow.hashSessionKey(otherTenant, LATER, 0));
        vm.prank(otherTenant);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadSignature.selector, LATER + (uint256(1) << 64)));
        escrow.openLeaseWithSessionKey(LATER + (uint256(1) << 64), 0, provider, DEPOSIT, _expiry(), sessionKey, r, vs);
    }

    // ---- freeChannel ----

    function test_freeChannel_skips_open_channels_and_closed_ones_with_a_later_tag() public {
        vm.assertEq(escrow.freeChannel(tenant, 0, LEASE), 0, "never used");
        _openOn(LEASE, 0, tenant, provider, DEPOSIT, _expiry());
        vm.assertEq(escrow.freeChannel(tenant, 0, LATER), 1, "channel 0 is open");
        _settle(LEASE, 1, true);
        vm.assertEq(escrow.freeChannel(tenant, 0, LATER), 0, "closed with a lower tag: free");
        vm.assertEq(escrow.freeChannel(tenant, 0, LEASE), 1, "closed with the same tag: not for this id");
        vm.assertEq(escrow.freeChannel(tenant, 0, EARLIER), 1, "nor for an earlier one");
        vm.assertEq(escrow.freeChannel(tenant, 5, LATER), 5, "from");
        vm.assertEq(escrow.freeChannel(stranger, 0, LEASE), 0, "per signer");
    }

    function test_freeChannel_from_beyond_the_last_channel_reverts_ChannelTooLarge() public {
        uint256 beyond = escrow.MAX_CHANNEL() + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ChannelTooLarge.selector, beyond));
        escrow.freeChannel(tenant, beyond, LEASE);
    }

    function testFuzz_freeChannel_always_names_a_channel_openLease_takes(uint8 opened, uint8 from) public {
        for (uint256 i; i < opened % 8; ++i) {
            _openOn(LEASE, i, tenant, provider, 1, _expiry());
            if (i % 2 == 0) _settle(LEASE, 0, true);
        }
        uint256 channel = escrow.freeChannel(tenant, from % 8, LATER);
        _openOn(LATER, channel, tenant, provider, 1, _expiry());
        (,,,, bool closed) = _stateOf(LATER);
        vm.assertFalse(closed, "opened");
    }

    // ---- fuzz: channels, signers, amounts ----

    function testFuzz_a_lease_on_any_channel_settles_only_there(uint32 channel, uint256 amount, uint256 signerKey)
        public
    {
        signerKey = bound(signerKey, 1, SECP256K1_N - 1);
        amount = bound(amount, 1, DEPOSIT);
        address signer = vm.addr(signerKey);
        credit.mint(signer, DEPOSIT);
        vm.prank(signer);
        credit.approve(address(escrow), DEPOSIT);
        vm.prank(signer);
        escrow.openLease(LEASE, channel, provider, DEPOSIT, _expiry());

        (bytes32 r, bytes32 vs) = _signCompact(signerKey, _voucherDigest(LEASE, channel, amount, true));
        escrow.settleBatch(_itemOn(LEASE, channel, amount, true, r, vs));
        (address leaseTenant,, uint256 deposit, uint256 paid,, bool closed) = escrow.lease(signer, channel, LEASE);
        vm.assertEq(leaseTenant, signer, "tenant");
        vm.assertEq(deposit, DEPOSIT, "deposit");
        vm.assertEq(paid, amount, "paid what was signed");
        vm.assertTrue(closed, "final");
        vm.assertEq(escrow.tenantBalance(signer), DEPOSIT - amount, "the rest in the balance");
        _assertConservation();
    }

    function testFuzz_a_channel_recycled_many_times_keeps_each_lease_apart(uint8 rounds, uint256 seed) public {
        rounds = uint8(bound(rounds, 1, 12));
        uint256 tag = 1;
        uint256 paidInAll;
        for (uint256 i; i < rounds; ++i) {
            tag += 1 + uint256(keccak256(abi.encode(seed, i))) % 1000;
            uint256 leaseId = (tag << 64) | (seed & type(uint64).max);
            uint256 amount = 1 + uint256(keccak256(abi.encode(seed, i, "amount"))) % DEPOSIT;
            _openOn(leaseId, 9, tenant, provider, DEPOSIT, _expiry());
            _settle(leaseId, amount, true);
            paidInAll += amount;
            // Replaying this lease's final voucher pays nothing, now or after the channel moves on.
            escrow.settleBatch(_item(leaseId, amount, true));
        }
        vm.assertEq(escrow.providerBalance(provider) + escrow.feesAccrued(), paidInAll, "each lease paid once");
        _assertConservation();
    }

    function _stateOf(uint256 leaseId)
        internal
        view
        returns (address leaseTenant, uint256 deposit, uint256 paid, uint64 expiry, bool closed)
    {
        (leaseTenant,, deposit, paid, expiry, closed) = escrow.lease(tenant, _channel(tenant, leaseId), leaseId);
    }
}
