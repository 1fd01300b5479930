// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {EscrowFixture} from "./utils/EscrowFixture.sol";

/// @dev Every function of the escrow, and every way to misuse it: each misuse reverts by name and changes nothing.
contract LeaseEscrowTest is EscrowFixture {
    event LeaseOpened(
        bytes32 indexed key,
        uint256 indexed leaseId,
        address indexed tenant,
        address signer,
        uint256 channel,
        address provider,
        uint256 deposit,
        uint64 expiry
    );
    event Deposited(address indexed tenant, uint256 amount);
    event BalanceWithdrawn(address indexed tenant, uint256 amount);
    event LeaseToppedUp(bytes32 indexed key, uint256 amount, uint256 deposit);
    event LeaseClosed(bytes32 indexed key, address indexed tenant, uint256 refund);
    event LeaseClosing(bytes32 indexed key, uint256 indexed leaseId, uint64 expiry);
    event ProviderRegistered(address indexed provider, uint32 indexed providerId);
    event Withdrawn(address indexed provider, uint256 amount);
    event FeesWithdrawn(address indexed to, uint256 amount);
    event FeeChanged(uint256 feeBps);
    event PauseChanged(bool paused);
    event SettlerChanged(address indexed settler, bool allowed);
    event Settled(bytes records);

    // ---- constructor and views ----

    function test_constructor_sets_token_owner_fee_and_claim_window() public view {
        vm.assertEq(escrow.credit(), address(credit), "credit");
        vm.assertEq(escrow.owner(), address(this), "owner");
        vm.assertEq(escrow.feeBps(), FEE_BPS, "fee");
        vm.assertEq(escrow.claimWindow(), CLAIM_WINDOW, "claim window");
        vm.assertFalse(escrow.paused(), "not paused");
        vm.assertEq(escrow.totalHeld() + escrow.totalOwed() + escrow.feesAccrued(), 0, "empty books");
    }

    function test_constructor_rejects_zero_token_zero_admin_and_fee_above_cap() public {
        vm.expectRevert(LeaseEscrow.ZeroAddress.selector);
        new LeaseEscrow(IERC20(address(0)), address(this), 0, 1);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new LeaseEscrow(IERC20(address(credit)), address(0), 0, 1);
        uint256 tooHigh = escrow.MAX_FEE_BPS() + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.FeeTooHigh.selector, tooHigh));
        new LeaseEscrow(IERC20(address(credit)), address(this), tooHigh, 1);
        uint256 tooLong = escrow.MAX_CLAIM_WINDOW() + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ClaimWindowTooLong.selector, tooLong));
        new LeaseEscrow(IERC20(address(credit)), address(this), 0, tooLong);
    }

    function test_the_longest_claim_window_and_the_last_expiry_do_not_overflow() public {
        LeaseEscrow longest = new LeaseEscrow(IERC20(address(credit)), address(this), 0, escrow.MAX_CLAIM_WINDOW());
        vm.prank(tenant);
        credit.approve(address(longest), DEPOSIT);
        vm.prank(tenant);
        longest.openLease(LEASE, 0, provider, DEPOSIT, type(uint40).max);
        vm.warp(type(uint40).max);
        (bytes32 r, bytes32 vs) = _signCompact(
            TENANT_KEY,
            longest.hashVoucher(LeaseEscrow.Voucher({leaseId: LEASE, channel: 0, amount: 1, isFinal: false}))
        );
        longest.settleBatch(_itemOn(LEASE, 0, 1, false, r, vs));
        (,,, uint256 paid,,) = longest.lease(tenant, 0, LEASE);
        vm.assertEq(paid, 1, "settled at the last expiry");
    }

    function test_leaseKey_is_the_hash_of_signer_and_channel_packed() public view {
        vm.assertEq(escrow.leaseKey(tenant, 7), keccak256(abi.encodePacked(tenant, uint96(7))), "key");
        vm.assertEq(escrow.leaseKey(tenant, 0), keccak256(abi.encodePacked(tenant, uint96(0))), "channel 0");
    }

    function test_leaseKey_rejects_a_channel_wider_than_32_bits() public {
        uint256 wide = escrow.MAX_CHANNEL() + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ChannelTooLarge.selector, wide));
        escrow.leaseKey(tenant, wide);
        // A channel reaching into the signer's bits would otherwise name another signer's word.
        vm.expectRevert();
        escrow.leaseKey(address(0), uint256(uint160(tenant)) << 96);
    }

    function test_lease_of_an_unknown_key_is_all_zero() public view {
        (address leaseTenant, address leaseProvider, uint256 deposit, uint256 paid, uint64 expiry, bool closed) =
            escrow.lease(tenant, _channel(tenant, LEASE), LEASE);
        vm.assertEq(leaseTenant, address(0), "tenant");
        vm.assertEq(leaseProvider, address(0), "provider");
        vm.assertEq(deposit + paid + expiry, 0, "amounts");
        vm.assertFalse(closed, "closed");
    }

    // ---- openLease ----

    function test_openLease_escrows_the_deposit_registers_the_provider_and_emits() public {
        uint256 expiry = _expiry();
        bytes32 key = escrow.leaseKey(tenant, _channel(tenant, LEASE));
        vm.expectEmit();
        emit ProviderRegistered(provider, 1);
        vm.expectEmit();
        emit LeaseOpened(key, LEASE, tenant, tenant, 0, provider, DEPOSIT, uint64(expiry));
        vm.assertEq(_open(LEASE, tenant, provider, DEPOSIT, expiry), key, "returned key");

        (address leaseTenant, address leaseProvider, uint256 deposit, uint256 paid, uint64 leaseExpiry, bool closed) =
            escrow.lease(tenant, _channel(tenant, LEASE), LEASE);
        vm.assertEq(leaseTenant, tenant, "tenant");
        vm.assertEq(leaseProvider, provider, "provider");
        vm.assertEq(deposit, DEPOSIT, "deposit");
        vm.assertEq(paid, 0, "paid");
        vm.assertEq(leaseExpiry, expiry, "expiry");
        vm.assertFalse(closed, "open");
        vm.assertEq(escrow.providerId(provider), 1, "provider id");
        vm.assertEq(escrow.providerAddress(1), provider, "provider address");
        vm.assertEq(credit.balanceOf(address(escrow)), DEPOSIT, "escrow holds the deposit");
        vm.assertEq(escrow.totalHeld(), DEPOSIT, "held");
        _assertConservation();
    }

    function test_openLease_registers_a_provider_once() public {
        _open(1);
        _open(2);
        _open(3, tenant, otherProvider, DEPOSIT, _expiry());
        vm.assertEq(escrow.providerId(provider), 1, "first");
        vm.assertEq(escrow.providerId(otherProvider), 2, "second");
    }

    function test_openLease_accepts_the_largest_deposit() public {
        credit.mint(tenant, escrow.MAX_DEPOSIT());
        _open(LEASE, tenant, provider, escrow.MAX_DEPOSIT(), _expiry());
        (, uint256 deposit,,) = _lease(tenant, LEASE);
        vm.assertEq(deposit, escrow.MAX_DEPOSIT(), "deposit");
    }

    function test_openLease_on_a_channel_with_an_open_lease_reverts_LeaseExists() public {
        bytes32 key = _openOn(LEASE, 3, tenant, provider, DEPOSIT, _expiry());
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseExists.selector, key));
        _openOn(LEASE, 3, tenant, provider, DEPOSIT, _expiry());
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseExists.selector, key));
        _openOn(LEASE + (1 << 64), 3, tenant, provider, DEPOSIT, _expiry());
    }

    function test_openLease_rejects_a_channel_above_the_cap() public {
        uint256 wide = escrow.MAX_CHANNEL() + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ChannelTooLarge.selector, wide));
        _openOn(LEASE, wide, tenant, provider, DEPOSIT, _expiry());
    }

    function test_openLease_ids_are_per_tenant_so_nobody_can_take_one_first() public {
        _open(LEASE, stranger, provider, 1, _expiry());
        _open(LEASE);
        (address first,,,) = _lease(stranger, LEASE);
        (address second,,,) = _lease(tenant, LEASE);
        vm.assertEq(first, stranger, "the stranger's lease");
        vm.assertEq(second, tenant, "the tenant's own lease, unaffected");
    }

    function test_openLease_reverts_while_paused() public {
        escrow.setPaused(true);
        vm.expectRevert(LeaseEscrow.Paused.selector);
        _open(LEASE);
    }

    function test_openLease_rejects_an_id_wider_than_128_bits() public {
        uint256 wide = uint256(type(uint128).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseIdTooLarge.selector, wide));
        _open(wide, tenant, provider, DEPOSIT, _expiry());
    }

    function test_openLease_rejects_provider_zero() public {
        vm.expectRevert(LeaseEscrow.ZeroAddress.selector);
        _open(LEASE, tenant, address(0), DEPOSIT, _expiry());
    }

    function test_openLease_rejects_a_zero_deposit() public {
        vm.expectRevert(LeaseEscrow.ZeroDeposit.selector);
        _open(LEASE, tenant, provider, 0, _expiry());
    }

    function test_openLease_rejects_a_deposit_above_the_cap() public {
        uint256 tooMuch = escrow.MAX_DEPOSIT() + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.DepositTooLarge.selector, tooMuch));
        _open(LEASE, tenant, provider, tooMuch, _expiry());
    }

    function test_openLease_rejects_an_expiry_now_in_the_past_or_beyond_uint40() public {
        uint256 now_ = vm.getBlockTimestamp();
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadExpiry.selector, now_));
        _open(LEASE, tenant, provider, DEPOSIT, now_);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadExpiry.selector, now_ - 1));
        _open(LEASE, tenant, provider, DEPOSIT, now_ - 1);
        uint256 far = uint256(type(uint40).max) + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadExpiry.selector, far));
        _open(LEASE, tenant, provider, DEPOSIT, far);
    }

    function test_openLease_without_allowance_reverts_and_changes_nothing() public {
        vm.prank(tenant);
        credit.approve(address(escrow), DEPOSIT - 1);
        vm.expectRevert();
        _open(LEASE);
        (, uint256 deposit,,) = _lease(tenant, LEASE);
        vm.assertEq(deposit, 0, "no lease");
        vm.assertEq(escrow.providerId(provider), 0, "no provider registered");
    }

    function testFuzz_openLease_accepts_any_valid_deposit_and_expiry(uint256 deposit, uint256 lifetime) public {
        deposit = bound(deposit, 1, escrow.MAX_DEPOSIT());
        uint256 expiry = vm.getBlockTimestamp() + bound(lifetime, 1, type(uint40).max - vm.getBlockTimestamp());
        credit.mint(tenant, deposit);
        _open(LEASE, tenant, provider, deposit, expiry);
        (,, uint256 stored,, uint64 storedExpiry,) = escrow.lease(tenant, _channel(tenant, LEASE), LEASE);
        vm.assertEq(stored, deposit, "deposit");
        vm.assertEq(storedExpiry, expiry, "expiry");
        _assertConservation();
    }

    // ---- openLeaseWithSessionKey ----

    function test_session_key_lease_is_signed_by_the_key_and_refunds_the_tenant() public {
        bytes32 key = _openWithSessionKey(LEASE, tenant, SESSION_KEY);
        vm.assertEq(key, escrow.leaseKey(sessionKey, 0), "keyed by the session key's channel");
        (address leaseTenant,,,) = _lease(sessionKey, LEASE);
        vm.assertEq(leaseTenant, tenant, "tenant");

        _settleSigned(SESSION_KEY, LEASE, 30e6, true);
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT - 30e6, "the rest went to the tenant's balance");
        vm.assertEq(escrow.tenantBalance(sessionKey), 0, "nothing to the session key");
    }

    function test_session_key_lease_ignores_the_tenants_own_vouchers() public {
        _openWithSessionKey(LEASE, tenant, SESSION_KEY);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, tenant, LEASE));
        escrow.settle(LEASE, 0, 1e6, false, r, vs);
    }

    function test_session_key_refund_after_expiry_credits_the_tenant() public {
        _openWithSessionKey(LEASE, tenant, SESSION_KEY);
        vm.warp(_expiry() + CLAIM_WINDOW + 1);
        vm.prank(stranger);
        escrow.refund(sessionKey, _channel(sessionKey, LEASE), LEASE);
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT, "tenant credited");
        vm.prank(tenant);
        escrow.withdrawBalance();
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS, "and withdrawn");
    }

    function test_naming_a_session_key_without_its_consent_reverts_BadSignature() public {
        // The stranger tries to take the tenant's channel 0, signing the consent itself.
        (bytes32 r, bytes32 vs) = _signCompact(STRANGER_KEY, escrow.hashSessionKey(stranger, LEASE, 0));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadSignature.selector, LEASE));
        escrow.openLeaseWithSessionKey(LEASE, 0, provider, DEPOSIT, _expiry(), tenant, r, vs);
        _open(LEASE); // still free
    }

    function test_a_consent_is_for_one_tenant_and_one_channel() public {
        (bytes32 r, bytes32 vs) = _signCompact(SESSION_KEY, escrow.hashSessionKey(tenant, LEASE, 0));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadSignature.selector, LEASE));
        escrow.openLeaseWithSessionKey(LEASE, 0, provider, DEPOSIT, _expiry(), sessionKey, r, vs);
        vm.prank(tenant);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadSignature.selector, LEASE));
        escrow.openLeaseWithSessionKey(LEASE, 1, provider, DEPOSIT, _expiry(), sessionKey, r, vs);
    }

    function test_session_key_zero_reverts_ZeroAddress() public {
        vm.prank(tenant);
        vm.expectRevert(LeaseEscrow.ZeroAddress.selector);
        escrow.openLeaseWithSessionKey(LEASE, 0, provider, DEPOSIT, _expiry(), address(0), bytes32(0), bytes32(0));
    }

    function test_session_key_naming_the_tenant_itself_is_a_plain_lease() public {
        (bytes32 r, bytes32 vs) = _signCompact(TENANT_KEY, escrow.hashSessionKey(tenant, LEASE, 0));
        vm.prank(tenant);
        escrow.openLeaseWithSessionKey(LEASE, 0, provider, DEPOSIT, _expiry(), tenant, r, vs);
        _remember(tenant, LEASE, 0);
        _settle(LEASE, 1e6, false);
        vm.assertEq(_paid(LEASE), 1e6, "tenant-signed voucher counts");
    }

    function test_session_key_lease_reverts_while_paused_and_when_taken() public {
        _openWithSessionKey(LEASE, tenant, SESSION_KEY);
        (bytes32 r, bytes32 vs) = _signCompact(SESSION_KEY, escrow.hashSessionKey(otherTenant, LEASE, 0));
        bytes32 key = escrow.leaseKey(sessionKey, 0);
        vm.prank(otherTenant);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseExists.selector, key));
        escrow.openLeaseWithSessionKey(LEASE, 0, provider, DEPOSIT, _expiry(), sessionKey, r, vs);
        (r, vs) = _signCompact(SESSION_KEY, escrow.hashSessionKey(otherTenant, LEASE + 1, 1));
        escrow.setPaused(true);
        vm.prank(otherTenant);
        vm.expectRevert(LeaseEscrow.Paused.selector);
        escrow.openLeaseWithSessionKey(LEASE + 1, 1, provider, DEPOSIT, _expiry(), sessionKey, r, vs);
    }

    // ---- topUp ----

    function test_topUp_adds_to_the_deposit() public {
        bytes32 key = _open(LEASE);
        vm.expectEmit();
        emit LeaseToppedUp(key, 5e6, DEPOSIT + 5e6);
        vm.prank(tenant);
        escrow.topUp(tenant, _channel(tenant, LEASE), LEASE, 5e6);
        (, uint256 deposit,,) = _lease(tenant, LEASE);
        vm.assertEq(deposit, DEPOSIT + 5e6, "deposit");
        vm.assertEq(escrow.totalHeld(), DEPOSIT + 5e6, "held");
        _assertConservation();
    }

    function test_topUp_of_a_session_key_lease_is_by_its_tenant() public {
        _openWithSessionKey(LEASE, tenant, SESSION_KEY);
        vm.prank(tenant);
        escrow.topUp(sessionKey, _channel(sessionKey, LEASE), LEASE, 1e6);
        vm.prank(sessionKey);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.NotTenant.selector, sessionKey));
        escrow.topUp(sessionKey, _channel(sessionKey, LEASE), LEASE, 1e6);
    }

    function test_topUp_misuse_reverts_by_name() public {
        bytes32 key = _open(LEASE);
        vm.startPrank(tenant);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, tenant, LEASE + 1));
        escrow.topUp(tenant, _channel(tenant, LEASE + 1), LEASE + 1, 1);
        vm.expectRevert(LeaseEscrow.ZeroDeposit.selector);
        escrow.topUp(tenant, _channel(tenant, LEASE), LEASE, 0);
        uint256 tooMuch = escrow.MAX_DEPOSIT() - DEPOSIT + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.DepositTooLarge.selector, escrow.MAX_DEPOSIT() + 1));
        escrow.topUp(tenant, _channel(tenant, LEASE), LEASE, tooMuch);
        // An amount no deposit could ever be is named too, not an arithmetic panic.
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.DepositTooLarge.selector, type(uint256).max));
        escrow.topUp(tenant, _channel(tenant, LEASE), LEASE, type(uint256).max);
        vm.stopPrank();
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.NotTenant.selector, stranger));
        escrow.topUp(tenant, _channel(tenant, LEASE), LEASE, 1);

        uint256 expiry = _expiry();
        vm.warp(expiry + 1);
        vm.prank(tenant);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseExpired.selector, key, expiry));
        escrow.topUp(tenant, _channel(tenant, LEASE), LEASE, 1);

        (, uint256 deposit,,) = _lease(tenant, LEASE);
        vm.assertEq(deposit, DEPOSIT, "unchanged");
    }

    function test_topUp_is_not_paused() public {
        _open(LEASE);
        // Pausing stops new leases only: a running lease can still be kept going.
        escrow.setPaused(true);
        vm.prank(tenant);
        escrow.topUp(tenant, _channel(tenant, LEASE), LEASE, 1);
        (, uint256 deposit,,) = _lease(tenant, LEASE);
        vm.assertEq(deposit, DEPOSIT + 1, "topped up while paused");
    }

    function test_topUp_of_a_closed_lease_reverts_LeaseAlreadyClosed() public {
        bytes32 key = _open(LEASE);
        _settle(LEASE, 1e6, true);
        vm.prank(tenant);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, key));
        escrow.topUp(tenant, _channel(tenant, LEASE), LEASE, 1);
    }

    // ---- settle ----

    function test_settle_pays_the_provider_net_of_the_fee() public {
        bytes32 key = _open(LEASE);
        vm.recordLogs();
        _settle(LEASE, 40e6, false);
        (bytes memory records,,) = _settledRecords();
        Run[] memory runs = _decodeRecords(records);
        vm.assertEq(runs.length, 1, "one run");
        vm.assertEq(runs[0].providerId, 1, "provider id");
        vm.assertEq(runs[0].net + runs[0].fee, 40e6, "net + fee == delta");
        vm.assertEq(runs[0].fee, _fee(40e6), "1% fee");
        vm.assertEq(runs[0].keys[0], key, "key");
        vm.assertEq(runs[0].signers[0], tenant, "signer");
        vm.assertEq(runs[0].channels[0], 0, "channel");
        vm.assertEq(runs[0].paid[0], 40e6, "new paid");

        vm.assertEq(_paid(LEASE), 40e6, "paid");
        vm.assertEq(escrow.providerBalance(provider), 40e6 - _fee(40e6), "provider balance");
        vm.assertEq(escrow.feesAccrued(), _fee(40e6), "fees");
        vm.assertEq(escrow.totalHeld(), DEPOSIT - 40e6, "held");
        vm.assertFalse(_closed(LEASE), "still open");
        _assertConservation();
    }

    function test_settle_vouchers_are_cumulative() public {
        _open(LEASE);
        _settle(LEASE, 10e6, false);
        _settle(LEASE, 25e6, false);
        vm.assertEq(_paid(LEASE), 25e6, "paid is the latest total");
        vm.assertEq(escrow.providerBalance(provider) + escrow.feesAccrued(), 25e6, "provider paid 25 in all");
    }

    function test_settle_final_closes_and_refunds_the_rest() public {
        bytes32 key = _open(LEASE);
        vm.expectEmit();
        emit LeaseClosed(key, tenant, DEPOSIT - 30e6);
        _settle(LEASE, 30e6, true);
        vm.assertTrue(_closed(LEASE), "closed");
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT - 30e6, "the rest credited to the tenant's balance");
        vm.assertEq(credit.balanceOf(tenant), TENANT_FUNDS - DEPOSIT, "no tokens moved by the refund");
        vm.assertEq(escrow.totalHeld(), DEPOSIT - 30e6, "held: the tenant's balance");
        _assertConservation();
    }

    function test_settle_final_for_what_is_paid_closes_with_nothing_new() public {
        _open(LEASE);
        _settle(LEASE, 30e6, false);
        _settle(LEASE, 30e6, true);
        vm.assertTrue(_closed(LEASE), "closed");
        vm.assertEq(_paid(LEASE), 30e6, "paid unchanged");
    }

    function test_settle_within_the_claim_window_after_expiry() public {
        _open(LEASE);
        vm.warp(_expiry() + CLAIM_WINDOW);
        _settle(LEASE, 1e6, false);
        vm.assertEq(_paid(LEASE), 1e6, "settled at the last second of the window");
    }

    function test_settle_after_the_claim_window_reverts_ClaimWindowOver() public {
        _open(LEASE);
        uint256 until = _expiry() + CLAIM_WINDOW;
        vm.warp(until + 1);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ClaimWindowOver.selector, LEASE, until));
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, r, vs);
    }

    function test_settle_stale_vouchers_revert_StaleVoucher() public {
        _open(LEASE);
        _settle(LEASE, 10e6, false);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 5e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, LEASE, 5e6, 10e6));
        escrow.settle(LEASE, _channel(tenant, LEASE), 5e6, false, r, vs);
        (r, vs) = _signVoucher(TENANT_KEY, LEASE, 10e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, LEASE, 10e6, 10e6));
        escrow.settle(LEASE, _channel(tenant, LEASE), 10e6, false, r, vs);
    }

    function test_settle_replay_of_a_final_voucher_reverts_StaleVoucher() public {
        _open(LEASE);
        _settle(LEASE, 10e6, true);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 10e6, true);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, LEASE, 10e6, 10e6));
        escrow.settle(LEASE, _channel(tenant, LEASE), 10e6, true, r, vs);
    }

    function test_settle_more_after_close_reverts_LeaseAlreadyClosed() public {
        bytes32 key = _open(LEASE);
        _settle(LEASE, 10e6, true);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 20e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, key));
        escrow.settle(LEASE, _channel(tenant, LEASE), 20e6, false, r, vs);
    }

    function test_settle_above_the_deposit_reverts_ExceedsDeposit() public {
        _open(LEASE);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, DEPOSIT + 1, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ExceedsDeposit.selector, LEASE, DEPOSIT + 1, DEPOSIT));
        escrow.settle(LEASE, _channel(tenant, LEASE), DEPOSIT + 1, false, r, vs);
    }

    function test_settle_by_another_signer_reverts_UnknownLease() public {
        _open(LEASE);
        (bytes32 r, bytes32 vs) = _signVoucher(STRANGER_KEY, LEASE, 1e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, stranger, LEASE));
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, r, vs);
        vm.assertEq(_paid(LEASE), 0, "nothing paid");
    }

    function test_settle_of_a_tampered_voucher_pays_nothing() public {
        _open(LEASE);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1e6, false);
        // Same signature, higher amount: recovers some other address, which has no such lease.
        vm.expectRevert();
        escrow.settle(LEASE, _channel(tenant, LEASE), 2e6, false, r, vs);
        vm.assertEq(_paid(LEASE), 0, "nothing paid");
    }

    function test_settle_with_a_malformed_signature_reverts_BadSignature() public {
        _open(LEASE);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.BadSignature.selector, LEASE));
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, bytes32(0), bytes32(0));
    }

    function test_settle_is_not_paused() public {
        _open(LEASE);
        escrow.setPaused(true);
        _settle(LEASE, 1e6, false);
        vm.assertEq(_paid(LEASE), 1e6, "settled while paused");
    }

    function testFuzz_settle_accepts_exactly_the_amounts_above_paid_up_to_the_deposit(
        uint256 deposit,
        uint256 first,
        uint256 second,
        bool isFinal
    ) public {
        deposit = bound(deposit, 1, escrow.MAX_DEPOSIT());
        credit.mint(tenant, deposit);
        _open(LEASE, tenant, provider, deposit, _expiry());
        first = bound(first, 1, deposit);
        _settle(LEASE, first, false);
        second = bound(second, 0, type(uint48).max);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, second, isFinal);
        if (second > deposit) {
            vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ExceedsDeposit.selector, LEASE, second, deposit));
        } else if (second < first || (second == first && !isFinal)) {
            vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, LEASE, second, first));
        }
        escrow.settle(LEASE, _channel(tenant, LEASE), second, isFinal, r, vs);
        uint256 expected = second > deposit || second < first ? first : second;
        vm.assertEq(_paid(LEASE), expected, "paid");
        vm.assertLe(_paid(LEASE), deposit, "paid <= deposit");
        vm.assertEq(escrow.providerBalance(provider) + escrow.feesAccrued(), expected, "net + fee == paid");
        _assertConservation();
    }

    function testFuzz_settle_counts_only_the_lease_signer(uint256 signerKey, uint256 amount) public {
        signerKey = bound(signerKey, 1, SECP256K1_N - 1);
        amount = bound(amount, 1, DEPOSIT);
        _open(LEASE);
        (bytes32 r, bytes32 vs) = _signVoucher(signerKey, LEASE, amount, false);
        if (signerKey != TENANT_KEY) {
            vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, vm.addr(signerKey), LEASE));
        }
        escrow.settle(LEASE, _channel(tenant, LEASE), amount, false, r, vs);
        vm.assertEq(_paid(LEASE), signerKey == TENANT_KEY ? amount : 0, "paid only for the tenant's signature");
    }

    function testFuzz_settle_window_follows_the_expiry(uint256 lifetime, uint256 wait) public {
        lifetime = bound(lifetime, 1, 365 days);
        wait = bound(wait, 0, 400 days);
        uint256 expiry = vm.getBlockTimestamp() + lifetime;
        _open(LEASE, tenant, provider, DEPOSIT, expiry);
        vm.warp(vm.getBlockTimestamp() + wait);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1, false);
        bool late = vm.getBlockTimestamp() > expiry + CLAIM_WINDOW;
        if (late) {
            vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.ClaimWindowOver.selector, LEASE, expiry + CLAIM_WINDOW));
        }
        escrow.settle(LEASE, _channel(tenant, LEASE), 1, false, r, vs);
        vm.assertEq(_paid(LEASE), late ? 0 : 1, "paid within the window only");
    }

    // ---- refund ----

    function test_refund_after_the_claim_window_credits_the_unpaid_deposit_to_the_tenant() public {
        bytes32 key = _open(LEASE);
        _settle(LEASE, 30e6, false);
        vm.warp(_expiry() + CLAIM_WINDOW + 1);
        vm.expectEmit();
        emit LeaseClosed(key, tenant, DEPOSIT - 30e6);
        vm.prank(stranger); // anyone, on the tenant's behalf
        escrow.refund(tenant, _channel(tenant, LEASE), LEASE);
        vm.assertTrue(_closed(LEASE), "closed");
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT - 30e6, "tenant's balance got the rest");
        vm.assertEq(escrow.totalHeld(), DEPOSIT - 30e6, "held: the tenant's balance");
        _assertConservation();
    }

    function test_refund_of_a_fully_paid_lease_closes_it_with_nothing_to_send() public {
        _open(LEASE);
        _settle(LEASE, DEPOSIT, false);
        vm.warp(_expiry() + CLAIM_WINDOW + 1);
        escrow.refund(tenant, _channel(tenant, LEASE), LEASE);
        vm.assertTrue(_closed(LEASE), "closed");
    }

    function test_refund_until_the_end_of_the_claim_window_reverts_NotExpired() public {
        _open(LEASE);
        uint256 from = _expiry() + CLAIM_WINDOW;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.NotExpired.selector, LEASE, from));
        escrow.refund(tenant, _channel(tenant, LEASE), LEASE);
        vm.warp(from);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.NotExpired.selector, LEASE, from));
        escrow.refund(tenant, _channel(tenant, LEASE), LEASE);
    }

    function test_refund_of_an_unknown_lease_reverts_UnknownLease() public {
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, tenant, LEASE));
        escrow.refund(tenant, _channel(tenant, LEASE), LEASE);
    }

    function test_refund_of_a_closed_lease_reverts_LeaseAlreadyClosed() public {
        bytes32 key = _open(LEASE);
        vm.warp(_expiry() + CLAIM_WINDOW + 1);
        escrow.refund(tenant, _channel(tenant, LEASE), LEASE);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, key));
        escrow.refund(tenant, _channel(tenant, LEASE), LEASE);
        uint256 other = LEASE + 1;
        bytes32 otherKey = _open(other, tenant, provider, DEPOSIT, vm.getBlockTimestamp() + 1);
        _settle(other, 1, true);
        vm.warp(vm.getBlockTimestamp() + CLAIM_WINDOW + 2);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, otherKey));
        escrow.refund(tenant, _channel(tenant, other), other);
    }

    function test_refund_is_not_paused() public {
        _open(LEASE);
        escrow.setPaused(true);
        vm.warp(_expiry() + CLAIM_WINDOW + 1);
        escrow.refund(tenant, _channel(tenant, LEASE), LEASE);
        vm.assertTrue(_closed(LEASE), "refunded while paused");
    }

    function test_a_refunded_lease_pays_no_later_voucher() public {
        bytes32 key = _open(LEASE);
        vm.warp(_expiry() + CLAIM_WINDOW + 1);
        escrow.refund(tenant, _channel(tenant, LEASE), LEASE);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1e6, false);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseAlreadyClosed.selector, key));
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, r, vs);
    }

    // ---- withdraw ----

    function test_withdraw_pays_the_provider_its_whole_balance() public {
        _open(LEASE);
        _settle(LEASE, 40e6, false);
        uint256 owed = 40e6 - _fee(40e6);
        vm.expectEmit();
        emit Withdrawn(provider, owed);
        vm.prank(provider);
        escrow.withdraw();
        vm.assertEq(credit.balanceOf(provider), owed, "paid out");
        vm.assertEq(escrow.providerBalance(provider), 0, "balance zero");
        vm.assertEq(escrow.totalOwed(), 0, "owed zero");
        _assertConservation();
    }

    function test_withdraw_leaves_neighbouring_providers_alone() public {
        _open(1, tenant, provider, DEPOSIT, _expiry());
        _open(2, tenant, otherProvider, DEPOSIT, _expiry());
        _settle(1, 10e6, false);
        _settle(2, 20e6, false);
        vm.prank(provider);
        escrow.withdraw();
        vm.assertEq(escrow.providerBalance(otherProvider), 20e6 - _fee(20e6), "the other lane is untouched");
    }

    function test_withdraw_with_nothing_owed_reverts_NothingToWithdraw() public {
        vm.prank(stranger);
        vm.expectRevert(LeaseEscrow.NothingToWithdraw.selector);
        escrow.withdraw();
        _open(LEASE);
        vm.prank(provider);
        vm.expectRevert(LeaseEscrow.NothingToWithdraw.selector);
        escrow.withdraw();
    }

    function test_withdraw_is_not_paused() public {
        _open(LEASE);
        _settle(LEASE, 1e6, false);
        escrow.setPaused(true);
        vm.prank(provider);
        escrow.withdraw();
        vm.assertEq(escrow.providerBalance(provider), 0, "withdrawn while paused");
    }

    function test_provider_balance_overflow_reverts_BalanceOverflow() public {
        _open(LEASE);
        // Provider 1's lane in word 0 of _providerBalances (slot 7), set to the lane's maximum.
        bytes32 slot = keccak256(abi.encode(uint256(0), uint256(7)));
        vm.store(address(escrow), slot, bytes32(uint256(type(uint64).max) << 64));
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1e6, false);
        vm.expectRevert(LeaseEscrow.BalanceOverflow.selector);
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, false, r, vs);
    }

    // ---- fees and administration ----

    function test_withdrawFees_pays_the_fees_to_the_recipient() public {
        _open(LEASE);
        _settle(LEASE, 50e6, false);
        vm.expectEmit();
        emit FeesWithdrawn(address(0xFEE), _fee(50e6));
        escrow.withdrawFees(address(0xFEE));
        vm.assertEq(credit.balanceOf(address(0xFEE)), _fee(50e6), "fees paid");
        vm.assertEq(escrow.feesAccrued(), 0, "no fees left");
        _assertConservation();
    }

    function test_withdrawFees_misuse_reverts_by_name() public {
        vm.expectRevert(LeaseEscrow.NothingToWithdraw.selector);
        escrow.withdrawFees(address(0xFEE));
        vm.expectRevert(LeaseEscrow.ZeroAddress.selector);
        escrow.withdrawFees(address(0));
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escrow.withdrawFees(stranger);
    }

    function test_setFee_applies_to_leases_opened_after_it_up_to_the_cap() public {
        uint256 cap = escrow.MAX_FEE_BPS();
        vm.expectEmit();
        emit FeeChanged(cap);
        escrow.setFee(cap);
        vm.assertEq(escrow.feeBps(), cap, "fee");
        _open(LEASE);
        vm.assertEq(escrow.leaseFeeBps(tenant, _channel(tenant, LEASE), LEASE), cap, "the lease's fee");
        _settle(LEASE, 10e6, false);
        vm.assertEq(escrow.feesAccrued(), 10e6 * cap / 10_000, "fee at the cap");

        // A later fee is for later leases: the open lease keeps paying the fee it opened with.
        escrow.setFee(0);
        _settle(LEASE, 20e6, false);
        vm.assertEq(escrow.feesAccrued(), 20e6 * cap / 10_000, "the lease's own fee");
        _open(LEASE + 1);
        _settle(LEASE + 1, 10e6, false);
        vm.assertEq(escrow.feesAccrued(), 20e6 * cap / 10_000, "no fee on the later lease");
        vm.assertEq(escrow.providerBalance(provider), 30e6 - 20e6 * cap / 10_000, "the provider got the rest");
        _assertConservation();
    }

    function test_a_fee_raise_never_reaches_an_open_lease_in_a_batch() public {
        _open(LEASE);
        _open(LEASE + 1);
        escrow.setFee(escrow.MAX_FEE_BPS());
        _open(LEASE + 2);

        escrow.settleBatch(bytes.concat(_item(LEASE, 10e6, false), _item(LEASE + 1, 10e6, true), _item(LEASE + 2, 10e6, false)));

        // One run of one provider: two leases at 1%, the third at the cap.
        uint256 fees = 2 * _fee(10e6) + 10e6 * escrow.MAX_FEE_BPS() / 10_000;
        vm.assertEq(escrow.feesAccrued(), fees, "each lease's own fee");
        vm.assertEq(escrow.providerBalance(provider), 30e6 - fees, "net");
        _assertConservation();
    }

    function test_leaseFeeBps_of_no_such_lease_reverts_UnknownLease() public {
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.UnknownLease.selector, tenant, LEASE));
        escrow.leaseFeeBps(tenant, 0, LEASE);
    }

    function test_setFee_misuse_reverts_by_name() public {
        uint256 tooHigh = escrow.MAX_FEE_BPS() + 1;
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.FeeTooHigh.selector, tooHigh));
        escrow.setFee(tooHigh);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escrow.setFee(1);
        vm.assertEq(escrow.feeBps(), FEE_BPS, "unchanged");
    }

    function test_setPaused_toggles_and_is_owner_only() public {
        vm.expectEmit();
        emit PauseChanged(true);
        escrow.setPaused(true);
        vm.assertTrue(escrow.paused(), "paused");
        vm.assertEq(escrow.feeBps(), FEE_BPS, "the fee survives pausing");
        escrow.setPaused(false);
        vm.assertFalse(escrow.paused(), "resumed");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escrow.setPaused(true);
    }

    function test_ownership_moves_in_two_steps() public {
        escrow.transferOwnership(stranger);
        vm.assertEq(escrow.owner(), address(this), "not yet");
        vm.prank(stranger);
        escrow.acceptOwnership();
        vm.assertEq(escrow.owner(), stranger, "accepted");
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, address(this)));
        escrow.setPaused(true);
    }

    function test_renounceOwnership_is_refused_so_the_escrow_always_has_an_owner() public {
        escrow.setPaused(true);
        vm.expectRevert(LeaseEscrow.OwnershipCannotBeRenounced.selector);
        escrow.renounceOwnership();
        vm.assertEq(escrow.owner(), address(this), "still owned");
        escrow.setPaused(false);
        vm.assertFalse(escrow.paused(), "and so it can be unpaused");
    }

    function test_a_final_voucher_closes_at_once_only_from_a_settler_or_the_leases_provider() public {
        _open(LEASE);
        _open(LEASE + 1);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 1e6, true);

        // The provider closes its own lease without the market.
        vm.prank(provider);
        escrow.settle(LEASE, _channel(tenant, LEASE), 1e6, true, r, vs);
        vm.assertTrue(_closed(LEASE), "closed by its provider");
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT - 1e6, "refunded at once");

        // Anyone else: a non-final voucher only pays the provider more.
        (r, vs) = _signVoucher(TENANT_KEY, LEASE + 1, 5e5, false);
        vm.prank(stranger);
        escrow.settle(LEASE + 1, _channel(tenant, LEASE + 1), 5e5, false, r, vs);
        vm.assertEq(_paid(LEASE + 1), 5e5, "paid");
        vm.assertFalse(_closed(LEASE + 1), "open");
        _assertConservation();
    }

    function test_the_tenants_own_final_voucher_pays_and_starts_the_closing_that_ends_in_a_refund() public {
        bytes32 key = _open(LEASE);
        uint256 channel = _channel(tenant, LEASE);
        // The provider holds a voucher for more than the tenant will admit to.
        (bytes32 pr, bytes32 pvs) = _signVoucher(TENANT_KEY, LEASE, 30e6, false);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 10e6, true);
        vm.warp(START + 600);

        vm.expectEmit();
        emit LeaseClosing(key, LEASE, uint64(START + 600));
        vm.prank(tenant);
        escrow.settle(LEASE, channel, 10e6, true, r, vs);
        (,,, uint256 paid, uint64 expiry, bool closed) = escrow.lease(tenant, channel, LEASE);
        vm.assertEq(paid, 10e6, "paid what the tenant signed");
        vm.assertEq(expiry, START + 600, "expires now");
        vm.assertFalse(closed, "open until the claim window is over");
        vm.assertEq(escrow.tenantBalance(tenant), 0, "nothing refunded yet");

        // The same voucher again pays nothing and changes nothing.
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.StaleVoucher.selector, LEASE, 10e6, 10e6));
        escrow.settle(LEASE, channel, 10e6, true, r, vs);
        // Topping up a closing lease is over: it has expired.
        vm.warp(START + 601);
        vm.prank(tenant);
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.LeaseExpired.selector, key, START + 600));
        escrow.topUp(tenant, channel, LEASE, 1);

        // During the claim window the provider's voucher for more still settles.
        vm.warp(START + 600 + CLAIM_WINDOW);
        vm.prank(provider);
        escrow.settle(LEASE, channel, 30e6, false, pr, pvs);
        vm.assertEq(_paid(LEASE), 30e6, "the provider's voucher settled");
        vm.expectRevert(abi.encodeWithSelector(LeaseEscrow.NotExpired.selector, LEASE, START + 600 + CLAIM_WINDOW));
        escrow.refund(tenant, channel, LEASE);

        // After it, anyone refunds the rest to the tenant.
        vm.warp(START + 601 + CLAIM_WINDOW);
        vm.prank(stranger);
        escrow.refund(tenant, channel, LEASE);
        vm.assertTrue(_closed(LEASE), "closed");
        vm.assertEq(escrow.tenantBalance(tenant), DEPOSIT - 30e6, "the rest refunded");
        vm.assertEq(escrow.providerBalance(provider), 30e6 - _fee(30e6), "the provider paid what it held");
        _assertConservation();
    }

    function test_a_closing_voucher_for_what_is_paid_only_brings_the_expiry_forward_and_never_extends_it() public {
        bytes32 key = _open(LEASE);
        uint256 channel = _channel(tenant, LEASE);
        _settle(LEASE, 4e6, false);
        (bytes32 r, bytes32 vs) = _signVoucher(TENANT_KEY, LEASE, 4e6, true);

        vm.expectEmit();
        emit LeaseClosing(key, LEASE, uint64(START));
        vm.prank(stranger);
        escrow.settle(LEASE, channel, 4e6, true, r, vs);
        (,,, uint256 paid, uint64 expiry,) = escrow.lease(tenant, channel, LEASE);
        vm.assertEq(paid, 4e6, "paid as before");
        vm.assertEq(expiry, START, "expiring now");

        // A lease past its expiry keeps it: a closing voucher for more pays, and the claim window still ends on time.
        bytes32 other = _open(LEASE + 1);
        uint256 otherExpiry = _expiry();
        vm.warp(otherExpiry + 10);
        (r, vs) = _signVoucher(TENANT_KEY, LEASE + 1, 2e6, true);
        vm.expectEmit();
        emit LeaseClosing(other, LEASE + 1, uint64(otherExpiry));
        vm.prank(tenant);
        escrow.settle(LEASE + 1, _channel(tenant, LEASE + 1), 2e6, true, r, vs);
        (,,, paid, expiry,) = escrow.lease(tenant, _channel(tenant, LEASE + 1), LEASE + 1);
        vm.assertEq(paid, 2e6, "paid");
        vm.assertEq(expiry, otherExpiry, "the expiry it had");
        _assertConservation();
    }

    function test_setSettler_is_owner_only_and_refuses_the_zero_address() public {
        vm.expectEmit();
        emit SettlerChanged(stranger, true);
        escrow.setSettler(stranger, true);
        vm.assertTrue(escrow.isSettler(stranger), "named");
        escrow.setSettler(stranger, false);
        vm.assertFalse(escrow.isSettler(stranger), "no longer");
        vm.expectRevert(LeaseEscrow.ZeroAddress.selector);
        escrow.setSettler(address(0), true);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escrow.setSettler(stranger, true);
    }
}
