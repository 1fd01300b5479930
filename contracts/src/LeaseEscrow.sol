// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title OrleansCompute lease escrow, v2
/// @notice One payment channel per lease. The tenant escrows a deposit; the lease's signer (the tenant, or a
/// session key the tenant names when opening) signs EIP-712 vouchers for the cumulative amount owed; anyone
/// may redeem them, one by one or many leases per call. A final voucher closes the lease and refunds the rest;
/// after expiry plus a claim window anyone may refund the unpaid deposit to the tenant. Providers and the fee
/// recipient withdraw by pull. The owner can pause new leases and top-ups and set a fee up to a hard cap; it
/// can never touch escrowed funds, block a settlement, a refund or a withdrawal.
/// @dev A lease is named by its signer and a 128-bit id: key = keccak256(abi.encode(signer, leaseId)). Only the
/// tenant (or a session key that signed its consent) can open a key in its own name, so nobody can take an id
/// first. Settlement recovers the signer from the voucher and finds the lease from (signer, leaseId): a forged
/// voucher names a lease that does not exist. Everything settlement needs sits in ONE storage word per lease
/// (see the LEASE_* layout); the tenant of a session-key lease lives in a second word that only refunds read.
/// Conservation: credit.balanceOf(this) == totalEscrowed + totalOwed + feesAccrued after every call.
contract LeaseEscrow is EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice A signer's promise that `amount` in total (not a delta) is owed for lease `leaseId`.
    /// @dev `isFinal` closes the lease and refunds `deposit - amount` to the tenant.
    struct Voucher {
        uint256 leaseId;
        uint256 amount;
        bool isFinal;
    }

    /// @notice Why a batch item was not applied (event SettleRejected). Stale items are skipped silently.
    uint8 public constant REJECT_BAD_SIGNATURE = 1;
    uint8 public constant REJECT_UNKNOWN_LEASE = 2;
    uint8 public constant REJECT_LEASE_CLOSED = 3;
    uint8 public constant REJECT_EXCEEDS_DEPOSIT = 4;
    uint8 public constant REJECT_CLAIM_WINDOW_OVER = 5;

    /// @notice The highest fee the owner can ever set, in basis points (10%).
    uint256 public constant MAX_FEE_BPS = 1_000;
    /// @notice The longest claim window the escrow can be deployed with.
    uint256 public constant MAX_CLAIM_WINDOW = 365 days;
    /// @notice The largest deposit of one lease, in credit base units (uint48: ~281 million credits at 6 decimals).
    uint256 public constant MAX_DEPOSIT = type(uint48).max;
    /// @notice Bytes per settleBatch item: leaseId (16) | isFinal (1) | amount (6) | r (32) | vs (32).
    uint256 public constant BATCH_ITEM_SIZE = 87;

    /// @dev keccak256("Voucher(uint256 leaseId,uint256 amount,bool isFinal)"), as a literal for the assembly.
    bytes32 private constant VOUCHER_TYPEHASH = 0xfb6fa5dd4b2db67d7c740648560519907f1bc733d327f92dd7acfb93928206f0;
    /// @dev The SettleRejected topic, as a literal for the assembly.
    bytes32 private constant SETTLE_REJECTED_TOPIC = 0x66b8472b550424362a43b8facddcb42494d9d080350bb0596e336459278a461b;
    bytes32 private constant SESSION_KEY_TYPEHASH = keccak256("SessionKey(address tenant,uint256 leaseId)");
    // Signatures with s above half the curve order are the malleable twins of valid ones (EIP-2).
    uint256 private constant HALF_CURVE_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    uint256 private constant BPS = 10_000;

    // One lease word: paid | deposit | expiry | providerId | flags. Amounts are uint48 (deposits are capped).
    uint256 private constant AMOUNT_MASK = (1 << 48) - 1;
    uint256 private constant LEASE_DEPOSIT_SHIFT = 48;
    uint256 private constant LEASE_EXPIRY_SHIFT = 96;
    uint256 private constant LEASE_PROVIDER_SHIFT = 136;
    uint256 private constant LEASE_CLOSED = 1 << 168;
    uint256 private constant LEASE_SESSION_KEY = 1 << 169;

    // The books word, read and written once per call: escrowed | owed | fees | fee bps | paused.
    uint256 private constant BOOKS_MASK_88 = (1 << 88) - 1;
    uint256 private constant BOOKS_OWED_SHIFT = 88;
    uint256 private constant BOOKS_FEES_SHIFT = 176;
    uint256 private constant BOOKS_FEE_BPS_SHIFT = 240;
    uint256 private constant BOOKS_PAUSED = 1 << 255;
    uint256 private constant BOOKS_TOTALS_MASK = (1 << BOOKS_FEE_BPS_SHIFT) - 1; // escrowed, owed and fees

    // Provider balances are packed four uint64 lanes to a word, by provider id: a batch paying many providers
    // with neighbouring ids touches a quarter of the words it would otherwise.
    uint256 private constant LANE_MASK = type(uint64).max;

    /// @dev What a settleBatch call accumulates: the open run of one provider and the totals to book.
    struct Batch {
        uint256 books;
        uint256 claimWindow;
        bytes records;
        uint256 recordsEnd;
        uint256 runStart;
        uint256 runProvider; // provider ids start at 1: 0 means no run is open
        uint256 runCount;
        uint256 runDelta;
        uint256 escrowReleased;
        uint256 owedAdded;
        uint256 feesAdded;
        uint256[] finals; // (key, refund << 160 | tenant) per final item, paid out after all effects
        uint256 finalCount;
        bytes32 domainSeparator;
        uint256 feeBps;
    }

    IERC20 private immutable _credit;
    uint256 private immutable _claimWindow;

    mapping(bytes32 key => uint256 word) private _leases;
    mapping(bytes32 key => address tenant) private _sessionKeyTenants;
    mapping(address provider => uint32 id) private _providerIds;
    mapping(uint256 id => address provider) private _providerAddresses;
    mapping(uint256 index => uint256 lanes) private _providerBalances;
    uint256 private _providerCount;
    uint256 private _books;

    /// @notice `tenant` escrowed `deposit` for `provider` under lease `key` = (signer, leaseId), until `expiry`.
    event LeaseOpened(
        bytes32 indexed key,
        uint256 indexed leaseId,
        address indexed tenant,
        address signer,
        address provider,
        uint256 deposit,
        uint64 expiry
    );
    /// @notice The tenant added `amount`; the lease now holds `deposit` in total.
    event LeaseToppedUp(bytes32 indexed key, uint256 amount, uint256 deposit);
    /// @notice Vouchers applied by one settle/settleBatch call, as packed runs of one provider each:
    /// run = providerId (4) | count (2) | net (8) | fee (8), then `count` items = key (32) | paid (6), where
    /// `paid` is the lease's new cumulative total and the provider's balance grew by `net` (plus `fee` to fees).
    event Settled(bytes records);
    /// @notice Batch item for lease `leaseId` was not applied, for `reason` (REJECT_*); nothing of it changed.
    event SettleRejected(uint256 indexed leaseId, uint8 reason);
    /// @notice Lease `key` closed (final voucher or refund) and `refund` went back to `tenant` (possibly 0).
    event LeaseClosed(bytes32 indexed key, address indexed tenant, uint256 refund);
    /// @notice `provider` received id `providerId`, the id Settled records name it by.
    event ProviderRegistered(address indexed provider, uint32 indexed providerId);
    /// @notice `provider` withdrew its whole balance.
    event Withdrawn(address indexed provider, uint256 amount);
    /// @notice The owner withdrew all accrued fees to `to`.
    event FeesWithdrawn(address indexed to, uint256 amount);
    /// @notice The fee on settlements is now `feeBps` basis points of each amount paid.
    event FeeChanged(uint256 feeBps);
    /// @notice Opening leases and top-ups are now paused (or not).
    event PauseChanged(bool paused);

    /// @notice `openLease` with a key (signer, leaseId) already used.
    error LeaseExists(bytes32 key);
    /// @notice No lease has this signer and id (for a voucher: the signature is not the lease signer's).
    error UnknownLease(address signer, uint256 leaseId);
    /// @notice The lease is closed (final voucher or refund).
    error LeaseAlreadyClosed(bytes32 key);
    /// @notice A voucher for no more than is paid already (equal is allowed only when it is final and open).
    error StaleVoucher(uint256 leaseId, uint256 amount, uint256 paid);
    /// @notice A voucher for more than the lease's deposit.
    error ExceedsDeposit(uint256 leaseId, uint256 amount, uint256 deposit);
    /// @notice A signature that is malformed, has a high s, or recovers to no address.
    error BadSignature(uint256 leaseId);
    /// @notice A voucher redeemed after the lease's expiry plus the claim window.
    error ClaimWindowOver(uint256 leaseId, uint256 settleableUntil);
    /// @notice `refund` before expiry plus the claim window, on a lease without a final voucher.
    error NotExpired(uint256 leaseId, uint256 refundableFrom);
    /// @notice Opening or topping up while paused.
    error Paused();
    /// @notice A zero address where an account is needed.
    error ZeroAddress();
    /// @notice A deposit or top-up of 0.
    error ZeroDeposit();
    /// @notice A deposit (after a top-up: the total) above MAX_DEPOSIT.
    error DepositTooLarge(uint256 deposit);
    /// @notice A lease id wider than 128 bits.
    error LeaseIdTooLarge(uint256 leaseId);
    /// @notice An expiry not after now, or beyond uint40.
    error BadExpiry(uint256 expiry);
    /// @notice A top-up after the lease's expiry.
    error LeaseExpired(bytes32 key, uint256 expiry);
    /// @notice A top-up by someone other than the lease's tenant.
    error NotTenant(address caller);
    /// @notice `withdraw` or `withdrawFees` with nothing to pay.
    error NothingToWithdraw();
    /// @notice `setFee` above MAX_FEE_BPS.
    error FeeTooHigh(uint256 feeBps);
    /// @notice A claim window above MAX_CLAIM_WINDOW in the constructor.
    error ClaimWindowTooLong(uint256 claimWindow);
    /// @notice A total that would not fit its packed lane (more credits than could ever exist).
    error BalanceOverflow();
    /// @notice `settleBatch` with no items, or a length that is not a multiple of BATCH_ITEM_SIZE.
    error MalformedBatch(uint256 length);

    /// @param credit_ The ERC-20 credit deposits and payments are made in.
    /// @param admin The owner: sets the fee, pauses, withdraws fees.
    /// @param feeBps_ The initial fee, at most MAX_FEE_BPS.
    /// @param claimWindow_ Seconds after a lease's expiry during which vouchers still settle and refunds wait; at most
    /// MAX_CLAIM_WINDOW, so that expiry + claim window never overflows.
    constructor(IERC20 credit_, address admin, uint256 feeBps_, uint256 claimWindow_)
        EIP712("OrleansCompute LeaseEscrow", "2")
        Ownable(admin)
    {
        if (address(credit_) == address(0)) revert ZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_);
        if (claimWindow_ > MAX_CLAIM_WINDOW) revert ClaimWindowTooLong(claimWindow_);
        _credit = credit_;
        _claimWindow = claimWindow_;
        _books = feeBps_ << BOOKS_FEE_BPS_SHIFT;
        emit FeeChanged(feeBps_);
    }

    // ---------------------------------------------------------------- leases

    /// @notice Opens lease `leaseId` with the caller as tenant and signer, pulling `deposit` credits from the
    /// caller (who must have approved this contract).
    /// @dev Reverts with Paused, LeaseIdTooLarge, ZeroAddress, ZeroDeposit, DepositTooLarge, BadExpiry or
    /// LeaseExists. Registers `provider` on its first lease. Emits LeaseOpened.
    /// @param leaseId The tenant's id for the lease, below 2^128, unused by this tenant.
    /// @param provider The account the vouchers pay.
    /// @param deposit The credits escrowed, the most vouchers can pay; at most MAX_DEPOSIT.
    /// @param expiry Unix time the lease ends; vouchers settle until expiry + claimWindow, refunds start after.
    /// @return key The lease key, keccak256(abi.encode(caller, leaseId)).
    function openLease(uint256 leaseId, address provider, uint256 deposit, uint256 expiry)
        external
        nonReentrant
        returns (bytes32 key)
    {
        return _open(leaseId, provider, deposit, expiry, msg.sender);
    }

    /// @notice Opens lease `leaseId` like `openLease`, but vouchers are signed by `sessionKey`, not the tenant.
    /// @dev The session key consents by signing the EIP-712 `SessionKey(address tenant,uint256 leaseId)` (compact
    /// r, vs): nobody can name another's key to take its lease ids. Reverts as `openLease`, or BadSignature.
    /// @param leaseId The lease id, below 2^128, unused by this session key.
    /// @param provider The account the vouchers pay.
    /// @param deposit The credits escrowed; at most MAX_DEPOSIT.
    /// @param expiry Unix time the lease ends.
    /// @param sessionKey The only account whose vouchers count for this lease.
    /// @param r The consent signature's r.
    /// @param vs The consent signature's s, with v - 27 in its top bit (EIP-2098).
    /// @return key The lease key, keccak256(abi.encode(sessionKey, leaseId)).
    function openLeaseWithSessionKey(
        uint256 leaseId,
        address provider,
        uint256 deposit,
        uint256 expiry,
        address sessionKey,
        bytes32 r,
        bytes32 vs
    ) external nonReentrant returns (bytes32 key) {
        if (sessionKey == address(0)) revert ZeroAddress();
        if (_recover(hashSessionKey(msg.sender, leaseId), r, vs) != sessionKey) revert BadSignature(leaseId);
        key = _open(leaseId, provider, deposit, expiry, sessionKey);
        if (sessionKey != msg.sender) {
            _leases[key] |= LEASE_SESSION_KEY;
            _sessionKeyTenants[key] = msg.sender;
        }
    }

    /// @notice Adds `amount` credits to the escrow of a live lease, pulled from the caller, its tenant.
    /// @dev Reverts with Paused, UnknownLease, LeaseAlreadyClosed, LeaseExpired (after expiry), NotTenant,
    /// ZeroDeposit or DepositTooLarge (new total above MAX_DEPOSIT). Emits LeaseToppedUp.
    /// @param signer The lease's signer (the tenant unless it named a session key).
    /// @param leaseId The lease id.
    /// @param amount The credits to add.
    function topUp(address signer, uint256 leaseId, uint256 amount) external nonReentrant {
        uint256 books = _books;
        if (books & BOOKS_PAUSED != 0) revert Paused();
        bytes32 key = leaseKey(signer, leaseId);
        uint256 word = _leases[key];
        if (word == 0) revert UnknownLease(signer, leaseId);
        if (word & LEASE_CLOSED != 0) revert LeaseAlreadyClosed(key);
        uint256 expiry = _expiryOf(word);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > expiry) revert LeaseExpired(key, expiry);
        if (_tenantOf(key, word, signer) != msg.sender) revert NotTenant(msg.sender);
        if (amount == 0) revert ZeroDeposit();
        uint256 deposit = _depositOf(word) + amount;
        if (deposit > MAX_DEPOSIT) revert DepositTooLarge(deposit);

        _leases[key] = (word & ~(AMOUNT_MASK << LEASE_DEPOSIT_SHIFT)) | (deposit << LEASE_DEPOSIT_SHIFT);
        _books = _addEscrowed(books, amount);
        emit LeaseToppedUp(key, amount, deposit);

        _credit.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Returns the unpaid deposit of lease (signer, leaseId) to its tenant and closes it. Anyone may
    /// call, once expiry + claimWindow has passed.
    /// @dev A final voucher refunds by itself; this is the exit that needs nobody's cooperation. Reverts with
    /// UnknownLease, LeaseAlreadyClosed or NotExpired. Emits LeaseClosed.
    /// @param signer The lease's signer.
    /// @param leaseId The lease id.
    function refund(address signer, uint256 leaseId) external nonReentrant {
        bytes32 key = leaseKey(signer, leaseId);
        uint256 word = _leases[key];
        if (word == 0) revert UnknownLease(signer, leaseId);
        if (word & LEASE_CLOSED != 0) revert LeaseAlreadyClosed(key);
        uint256 refundableFrom = _expiryOf(word) + _claimWindow;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp <= refundableFrom) revert NotExpired(leaseId, refundableFrom);

        address tenant = _tenantOf(key, word, signer);
        uint256 amount = _depositOf(word) - (word & AMOUNT_MASK);
        _leases[key] = word | LEASE_CLOSED;
        _books -= amount;
        emit LeaseClosed(key, tenant, amount);

        if (amount != 0) _credit.safeTransfer(tenant, amount);
    }

    // ---------------------------------------------------------------- settlement

    /// @notice Redeems one voucher: credits the lease's provider with what is newly owed (less the fee) and, for
    /// a final voucher, closes the lease and refunds the rest to the tenant. Anyone may submit.
    /// @dev Reverts with BadSignature, UnknownLease (no lease of the recovering signer), LeaseAlreadyClosed,
    /// StaleVoucher, ExceedsDeposit or ClaimWindowOver. Emits Settled (and LeaseClosed when final).
    /// @param leaseId The lease id the voucher names.
    /// @param amount The cumulative amount owed.
    /// @param isFinal Whether the voucher closes the lease.
    /// @param r The signature's r.
    /// @param vs The signature's s with v - 27 in its top bit (EIP-2098).
    function settle(uint256 leaseId, uint256 amount, bool isFinal, bytes32 r, bytes32 vs) external nonReentrant {
        address signer = _recover(_voucherDigest(_domainSeparatorV4(), leaseId, amount, isFinal), r, vs);
        if (signer == address(0)) revert BadSignature(leaseId);
        bytes32 key = leaseKey(signer, leaseId);
        uint256 word = _leases[key];
        if (word == 0) revert UnknownLease(signer, leaseId);
        uint256 paid = word & AMOUNT_MASK;
        if (word & LEASE_CLOSED != 0) {
            if (amount <= paid) revert StaleVoucher(leaseId, amount, paid);
            revert LeaseAlreadyClosed(key);
        }
        if (amount < paid || (amount == paid && !isFinal)) revert StaleVoucher(leaseId, amount, paid);
        uint256 deposit = _depositOf(word);
        if (amount > deposit) revert ExceedsDeposit(leaseId, amount, deposit);
        uint256 settleableUntil = _expiryOf(word) + _claimWindow;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > settleableUntil) revert ClaimWindowOver(leaseId, settleableUntil);

        Batch memory batch = _newBatch(1);
        _apply(batch, key, word, amount, isFinal, signer);
        _finish(batch);
    }

    /// @notice Redeems many vouchers, for any leases and providers, in one call. Never reverts for a bad item:
    /// stale items (already paid, replays) are skipped, invalid ones reported by SettleRejected, and each item
    /// applies whole or not at all. Consecutive items of one provider are credited together.
    /// @dev `items` is a packed array of BATCH_ITEM_SIZE-byte items: leaseId (uint128) | isFinal (uint8, 0 or
    /// not) | amount (uint48) | r (bytes32) | vs (bytes32). Items apply in order, so two for one lease must
    /// increase. Final items' refunds are paid after every item is applied. Reverts only with MalformedBatch.
    /// Emits one Settled (when anything applied), a SettleRejected per invalid item and a LeaseClosed per final one.
    /// @param items The packed items.
    function settleBatch(bytes calldata items) external nonReentrant {
        uint256 count = items.length / BATCH_ITEM_SIZE;
        if (count == 0 || items.length % BATCH_ITEM_SIZE != 0) revert MalformedBatch(items.length);

        Batch memory batch = _newBatch(count);
        batch.domainSeparator = _domainSeparatorV4();
        // The hot loop, in assembly: per item it costs the signature's calldata, one ecrecover and one storage
        // word, and little else. It does what settle() does for one voucher (the tests hold them to it).
        // Run state lives in `batch` (a memory struct: field i at batch + 32 * i) to stay within the stack.
        assembly ("memory-safe") {
            // Batch fields, in declaration order: 0x20 claimWindow, 0x40 records, 0x60 recordsEnd, 0x80 runStart,
            // 0xa0 runProvider, 0xc0 runCount, 0xe0 runDelta, 0x100 escrowReleased, 0x120 owedAdded,
            // 0x140 feesAdded, 0x160 finals, 0x180 finalCount, 0x1a0 domainSeparator, 0x1c0 feeBps.

            function reject(leaseId, reason) {
                mstore(0x00, reason)
                log2(0x00, 0x20, SETTLE_REJECTED_TOPIC, leaseId)
            }

            // Credits the open run's provider (net of the fee), adds to the batch totals, writes the run header.
            function closeRun(b, balances) {
                let provider := mload(add(b, 0xa0))
                let delta := mload(add(b, 0xe0))
                let fee := div(mul(delta, mload(add(b, 0x1c0))), 10000)
                let net := sub(delta, fee)
                if net {
                    mstore(0x00, shr(2, provider))
                    mstore(0x20, balances)
                    let slot := keccak256(0x00, 0x40)
                    let shift := shl(6, and(provider, 3))
                    let lanes := sload(slot)
                    let credited := add(and(shr(shift, lanes), 0xffffffffffffffff), net)
                    if gt(credited, 0xffffffffffffffff) {
                        mstore(0x00, 0x89560ca1) // BalanceOverflow()
                        revert(0x1c, 0x04)
                    }
                    sstore(slot, or(and(lanes, not(shl(shift, 0xffffffffffffffff))), shl(shift, credited)))
                }
                mstore(add(b, 0x120), add(mload(add(b, 0x120)), net))
                mstore(add(b, 0x140), add(mload(add(b, 0x140)), fee))
                // providerId (4) | count (2) | net (8) | fee (8), over the first 10 bytes of the run's first item.
                let at := add(add(mload(add(b, 0x40)), 0x20), mload(add(b, 0x80)))
                let header := or(or(shl(224, provider), shl(208, mload(add(b, 0xc0)))), or(shl(144, net), shl(80, fee)))
                mstore(at, or(header, and(mload(at), 0xffffffffffffffffffff)))
            }

            let scratch := mload(0x40)
            for {
                let p := items.offset
                let end := add(p, items.length)
            } lt(p, end) { p := add(p, 87) } {
                let head := calldataload(p)
                let leaseId := shr(128, head)
                let isFinal := iszero(iszero(byte(16, head)))
                let amount := and(shr(72, head), 0xffffffffffff)

                // EIP-712 digest of Voucher(leaseId, amount, isFinal).
                mstore(scratch, VOUCHER_TYPEHASH)
                mstore(add(scratch, 0x20), leaseId)
                mstore(add(scratch, 0x40), amount)
                mstore(add(scratch, 0x60), isFinal)
                mstore(add(scratch, 0x40), keccak256(scratch, 0x80))
                mstore(scratch, 0x1901)
                mstore(add(scratch, 0x20), mload(add(batch, 0x1a0)))
                let digest := keccak256(add(scratch, 0x1e), 0x42)

                // ecrecover on (r, vs), refusing high s (EIP-2098 compact form).
                let vs := calldataload(add(p, 55))
                let s := and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
                let signer := 0
                if iszero(gt(s, HALF_CURVE_ORDER)) {
                    mstore(scratch, digest)
                    mstore(add(scratch, 0x20), add(shr(255, vs), 27))
                    mstore(add(scratch, 0x40), calldataload(add(p, 23)))
                    mstore(add(scratch, 0x60), s)
                    mstore(0x00, 0)
                    pop(staticcall(gas(), 0x01, scratch, 0x80, 0x00, 0x20))
                    signer := mload(0x00)
                }
                if iszero(signer) {
                    reject(leaseId, 1) // REJECT_BAD_SIGNATURE
                    continue
                }

                // The lease of (signer, leaseId): _leases[keccak256(abi.encode(signer, leaseId))].
                mstore(0x00, signer)
                mstore(0x20, leaseId)
                let key := keccak256(0x00, 0x40)
                mstore(0x00, key)
                mstore(0x20, _leases.slot)
                let slot := keccak256(0x00, 0x40)
                let word := sload(slot)
                if iszero(word) {
                    reject(leaseId, 2) // REJECT_UNKNOWN_LEASE
                    continue
                }
                let paid := and(word, 0xffffffffffff)
                if and(word, LEASE_CLOSED) {
                    if gt(amount, paid) { reject(leaseId, 3) } // REJECT_LEASE_CLOSED
                    continue // else stale
                }
                if lt(amount, paid) { continue } // stale
                if and(eq(amount, paid), iszero(isFinal)) { continue } // stale
                let deposit := and(shr(48, word), 0xffffffffffff)
                if gt(amount, deposit) {
                    reject(leaseId, 4) // REJECT_EXCEEDS_DEPOSIT
                    continue
                }
                if gt(timestamp(), add(and(shr(96, word), 0xffffffffff), mload(add(batch, 0x20)))) {
                    reject(leaseId, 5) // REJECT_CLAIM_WINDOW_OVER
                    continue
                }

                // Apply: the new paid (and the closed flag) in the one lease word.
                sstore(slot, or(or(and(word, not(0xffffffffffff)), amount), mul(isFinal, LEASE_CLOSED)))
                let delta := sub(amount, paid)
                let provider := and(shr(136, word), 0xffffffff)
                if iszero(eq(provider, mload(add(batch, 0xa0)))) {
                    if mload(add(batch, 0xa0)) { closeRun(batch, _providerBalances.slot) }
                    mstore(add(batch, 0x80), mload(add(batch, 0x60)))
                    mstore(add(batch, 0x60), add(mload(add(batch, 0x60)), 22))
                    mstore(add(batch, 0xa0), provider)
                    mstore(add(batch, 0xc0), 0)
                    mstore(add(batch, 0xe0), 0)
                }
                mstore(add(batch, 0xc0), add(mload(add(batch, 0xc0)), 1))
                mstore(add(batch, 0xe0), add(mload(add(batch, 0xe0)), delta))
                mstore(add(batch, 0x100), add(mload(add(batch, 0x100)), delta))
                // Item record: key (32) | paid (6); the zeros after paid are overwritten by what follows.
                let out := add(add(mload(add(batch, 0x40)), 0x20), mload(add(batch, 0x60)))
                mstore(out, key)
                mstore(add(out, 0x20), shl(208, amount))
                mstore(add(batch, 0x60), add(mload(add(batch, 0x60)), 38))

                if isFinal {
                    let refundAmount := sub(deposit, amount)
                    mstore(add(batch, 0x100), add(mload(add(batch, 0x100)), refundAmount))
                    let tenant := signer
                    if and(word, LEASE_SESSION_KEY) {
                        mstore(0x00, key)
                        mstore(0x20, _sessionKeyTenants.slot)
                        tenant := sload(keccak256(0x00, 0x40))
                    }
                    let at := add(add(mload(add(batch, 0x160)), 0x20), shl(6, mload(add(batch, 0x180))))
                    mstore(at, key)
                    mstore(add(at, 0x20), or(shl(160, refundAmount), tenant))
                    mstore(add(batch, 0x180), add(mload(add(batch, 0x180)), 1))
                }
            }
            if mload(add(batch, 0xa0)) { closeRun(batch, _providerBalances.slot) }
        }
        if (batch.runProvider != 0) _book(batch); // else nothing applied: nothing changed
    }

    // ---------------------------------------------------------------- withdrawals and administration

    /// @notice Pays the caller its whole provider balance.
    /// @dev Reverts with NothingToWithdraw when it is zero. Emits Withdrawn.
    function withdraw() external nonReentrant {
        uint256 id = _providerIds[msg.sender];
        uint256 index = id >> 2;
        uint256 shift = (id & 3) * 64;
        uint256 lanes = _providerBalances[index];
        uint256 amount = (lanes >> shift) & LANE_MASK;
        if (amount == 0) revert NothingToWithdraw();

        _providerBalances[index] = lanes & ~(LANE_MASK << shift);
        _books -= amount << BOOKS_OWED_SHIFT;
        emit Withdrawn(msg.sender, amount);

        _credit.safeTransfer(msg.sender, amount);
    }

    /// @notice Owner: pays all accrued fees to `to`.
    /// @dev Reverts with OwnableUnauthorizedAccount, ZeroAddress or NothingToWithdraw. Emits FeesWithdrawn.
    /// @param to The fee recipient.
    function withdrawFees(address to) external onlyOwner nonReentrant {
        if (to == address(0)) revert ZeroAddress();
        uint256 books = _books;
        uint256 amount = (books >> BOOKS_FEES_SHIFT) & LANE_MASK;
        if (amount == 0) revert NothingToWithdraw();

        _books = books & ~(LANE_MASK << BOOKS_FEES_SHIFT);
        emit FeesWithdrawn(to, amount);

        _credit.safeTransfer(to, amount);
    }

    /// @notice Owner: sets the fee taken from each amount paid to providers, from the next settlement on.
    /// @dev Reverts with OwnableUnauthorizedAccount or FeeTooHigh (above MAX_FEE_BPS). Emits FeeChanged.
    /// @param feeBps_ The fee in basis points.
    function setFee(uint256 feeBps_) external onlyOwner {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_);
        _books = (_books & ~(uint256(0x7FFF) << BOOKS_FEE_BPS_SHIFT)) | (feeBps_ << BOOKS_FEE_BPS_SHIFT);
        emit FeeChanged(feeBps_);
    }

    /// @notice Owner: stops (or resumes) opening leases and top-ups. Settlement, refunds and withdrawals of
    /// existing leases never stop.
    /// @dev Reverts with OwnableUnauthorizedAccount. Emits PauseChanged.
    /// @param paused_ Whether to pause.
    function setPaused(bool paused_) external onlyOwner {
        _books = paused_ ? _books | BOOKS_PAUSED : _books & ~BOOKS_PAUSED;
        emit PauseChanged(paused_);
    }

    // ---------------------------------------------------------------- views

    /// @notice The credit token this escrow holds.
    /// @return The token's address.
    function credit() external view returns (address) {
        return address(_credit);
    }

    /// @notice Seconds after expiry during which vouchers still settle and before which refunds wait.
    /// @return The claim window in seconds.
    function claimWindow() external view returns (uint256) {
        return _claimWindow;
    }

    /// @notice The fee on settlements, in basis points.
    /// @return The fee.
    function feeBps() external view returns (uint256) {
        return (_books >> BOOKS_FEE_BPS_SHIFT) & 0x7FFF;
    }

    /// @notice Whether opening leases and top-ups are paused.
    /// @return True when paused.
    function paused() external view returns (bool) {
        return _books & BOOKS_PAUSED != 0;
    }

    /// @notice Sum over open leases of deposit - paid.
    /// @return The escrowed total.
    function totalEscrowed() external view returns (uint256) {
        return _books & BOOKS_MASK_88;
    }

    /// @notice Sum of all provider balances.
    /// @return The owed total.
    function totalOwed() external view returns (uint256) {
        return (_books >> BOOKS_OWED_SHIFT) & BOOKS_MASK_88;
    }

    /// @notice Fees earned and not yet withdrawn.
    /// @return The fees.
    function feesAccrued() external view returns (uint256) {
        return (_books >> BOOKS_FEES_SHIFT) & LANE_MASK;
    }

    /// @notice Credits `provider` has earned and not withdrawn.
    /// @param provider The provider.
    /// @return The balance.
    function providerBalance(address provider) external view returns (uint256) {
        uint256 id = _providerIds[provider];
        if (id == 0) return 0;
        return (_providerBalances[id >> 2] >> ((id & 3) * 64)) & LANE_MASK;
    }

    /// @notice The id Settled records name `provider` by; 0 before its first lease.
    /// @param provider The provider.
    /// @return The id.
    function providerId(address provider) external view returns (uint256) {
        return _providerIds[provider];
    }

    /// @notice The provider with id `id`, or the zero address.
    /// @param id The provider id.
    /// @return The provider.
    function providerAddress(uint256 id) external view returns (address) {
        return _providerAddresses[id];
    }

    /// @notice A lease as stored; all zero for an unknown one.
    /// @param signer The lease's signer.
    /// @param leaseId The lease id.
    /// @return tenant The account that funded it and receives refunds.
    /// @return provider The account its vouchers pay.
    /// @return deposit The credits escrowed in total.
    /// @return paid The cumulative amount paid to the provider.
    /// @return expiry The unix time it ends.
    /// @return closed Whether a final voucher or a refund closed it.
    function lease(address signer, uint256 leaseId)
        external
        view
        returns (address tenant, address provider, uint256 deposit, uint256 paid, uint64 expiry, bool closed)
    {
        bytes32 key = leaseKey(signer, leaseId);
        uint256 word = _leases[key];
        if (word == 0) return (address(0), address(0), 0, 0, 0, false);
        return (
            _tenantOf(key, word, signer),
            _providerAddresses[_providerIdOf(word)],
            _depositOf(word),
            word & AMOUNT_MASK,
            uint64(_expiryOf(word)),
            word & LEASE_CLOSED != 0
        );
    }

    /// @notice The key of lease (signer, leaseId), as events name it.
    /// @param signer The lease's signer.
    /// @param leaseId The lease id.
    /// @return key keccak256(abi.encode(signer, leaseId)).
    function leaseKey(address signer, uint256 leaseId) public pure returns (bytes32 key) {
        assembly ("memory-safe") {
            mstore(0x00, signer)
            mstore(0x20, leaseId)
            key := keccak256(0x00, 0x40)
        }
    }

    /// @notice The EIP-712 digest a lease's signer signs for `voucher`.
    /// @param voucher The voucher.
    /// @return The digest of `Voucher(uint256 leaseId,uint256 amount,bool isFinal)` in this escrow's domain.
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32) {
        return _voucherDigest(_domainSeparatorV4(), voucher.leaseId, voucher.amount, voucher.isFinal);
    }

    /// @notice The EIP-712 digest a session key signs to consent to sign for `tenant`'s lease `leaseId`.
    /// @param tenant The tenant opening the lease.
    /// @param leaseId The lease id.
    /// @return The digest of `SessionKey(address tenant,uint256 leaseId)` in this escrow's domain.
    function hashSessionKey(address tenant, uint256 leaseId) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SESSION_KEY_TYPEHASH, tenant, leaseId)));
    }

    // ---------------------------------------------------------------- internals

    function _open(uint256 leaseId, address provider, uint256 deposit, uint256 expiry, address signer)
        private
        returns (bytes32 key)
    {
        uint256 books = _books;
        if (books & BOOKS_PAUSED != 0) revert Paused();
        if (leaseId > type(uint128).max) revert LeaseIdTooLarge(leaseId);
        if (provider == address(0)) revert ZeroAddress();
        if (deposit == 0) revert ZeroDeposit();
        if (deposit > MAX_DEPOSIT) revert DepositTooLarge(deposit);
        // Leases last minutes to days; a validator's few seconds of leeway do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (expiry <= block.timestamp || expiry > type(uint40).max) revert BadExpiry(expiry);
        key = leaseKey(signer, leaseId);
        if (_leases[key] != 0) revert LeaseExists(key);

        uint256 id = _providerIds[provider];
        if (id == 0) id = _registerProvider(provider);
        _leases[key] = (deposit << LEASE_DEPOSIT_SHIFT) | (expiry << LEASE_EXPIRY_SHIFT) | (id << LEASE_PROVIDER_SHIFT);
        _books = _addEscrowed(books, deposit);
        // casting to 'uint64' is safe because expiry fits uint40, checked above
        // forge-lint: disable-next-line(unsafe-typecast)
        emit LeaseOpened(key, leaseId, msg.sender, signer, provider, deposit, uint64(expiry));

        _credit.safeTransferFrom(msg.sender, address(this), deposit);
    }

    function _registerProvider(address provider) private returns (uint256 id) {
        id = ++_providerCount;
        // casting to 'uint32' is safe: four billion providers take more gas than a chain will ever hold
        // forge-lint: disable-next-line(unsafe-typecast)
        _providerIds[provider] = uint32(id);
        _providerAddresses[id] = provider;
        // forge-lint: disable-next-line(unsafe-typecast)
        emit ProviderRegistered(provider, uint32(id));
    }

    function _newBatch(uint256 count) private view returns (Batch memory batch) {
        batch.books = _books;
        batch.claimWindow = _claimWindow;
        batch.feeBps = (batch.books >> BOOKS_FEE_BPS_SHIFT) & 0x7FFF;
        // Worst case every item opens a run: 22 + 38 bytes each, plus a word because items write their paid
        // as a whole word.
        batch.records = new bytes(count * 60 + 32);
        batch.finals = new uint256[](count * 2);
    }

    /// @dev Applies a checked voucher to its lease word and the batch: new paid, closed when final.
    function _apply(Batch memory batch, bytes32 key, uint256 word, uint256 amount, bool isFinal, address signer)
        private
    {
        uint256 delta = amount - (word & AMOUNT_MASK);
        word = (word & ~AMOUNT_MASK) | amount;
        if (isFinal) word |= LEASE_CLOSED;
        _leases[key] = word;
        _addToRun(batch, _providerIdOf(word), delta, key, amount);

        if (isFinal) {
            uint256 refundAmount = _depositOf(word) - amount;
            batch.escrowReleased += refundAmount;
            uint256 at = batch.finalCount++ * 2;
            batch.finals[at] = uint256(key);
            batch.finals[at + 1] = (refundAmount << 160) | uint160(_tenantOf(key, word, signer));
        }
    }

    function _finish(Batch memory batch) private {
        _closeRun(batch);
        _book(batch);
    }

    /// @dev Books what the batch applied, emits Settled, then pays the refunds of final vouchers.
    function _book(Batch memory batch) private {
        _books = _applyToBooks(batch.books, batch.escrowReleased, batch.owedAdded, batch.feesAdded);
        bytes memory records = batch.records;
        uint256 recordsEnd = batch.recordsEnd;
        assembly ("memory-safe") {
            mstore(records, recordsEnd)
        }
        emit Settled(records);

        uint256[] memory finals = batch.finals;
        for (uint256 i; i < batch.finalCount * 2; i += 2) {
            address tenant = address(uint160(finals[i + 1]));
            uint256 refundAmount = finals[i + 1] >> 160;
            emit LeaseClosed(bytes32(finals[i]), tenant, refundAmount);
            if (refundAmount != 0) _credit.safeTransfer(tenant, refundAmount);
        }
    }

    /// @dev Appends an applied item to the batch's records, opening a new run when the provider changes.
    function _addToRun(Batch memory batch, uint256 providerId_, uint256 delta, bytes32 key, uint256 paid) private {
        if (providerId_ != batch.runProvider) {
            if (batch.runProvider != 0) _closeRun(batch);
            batch.runStart = batch.recordsEnd;
            batch.recordsEnd += 22;
            batch.runProvider = providerId_;
            batch.runCount = 0;
            batch.runDelta = 0;
        }
        batch.runCount++;
        batch.runDelta += delta;
        batch.escrowReleased += delta;
        _writeItem(batch.records, batch.recordsEnd, key, paid);
        batch.recordsEnd += 38;
    }

    /// @dev Credits the open run's provider, adds to the batch totals and fills in the run's header.
    function _closeRun(Batch memory batch) private {
        (uint256 net, uint256 fee) = _split(batch.runDelta, batch.books);
        _creditProvider(batch.runProvider, net);
        batch.owedAdded += net;
        batch.feesAdded += fee;
        // providerId (4) | count (2) | net (8) | fee (8): 22 bytes, over the first 10 bytes of the run's first item.
        uint256 header = (batch.runProvider << 224) | (batch.runCount << 208) | (net << 144) | (fee << 80);
        bytes memory records = batch.records;
        uint256 runStart = batch.runStart;
        assembly ("memory-safe") {
            let at := add(add(records, 0x20), runStart)
            mstore(at, or(header, and(mload(at), 0xffffffffffffffffffff)))
        }
    }

    function _writeItem(bytes memory records, uint256 offset, bytes32 key, uint256 paid) private pure {
        assembly ("memory-safe") {
            let at := add(add(records, 0x20), offset)
            mstore(at, key)
            // The 6-byte paid after the key; the bytes after it are not written yet.
            mstore(add(at, 0x20), shl(208, paid))
        }
    }

    function _creditProvider(uint256 id, uint256 amount) private {
        if (amount == 0) return;
        uint256 index = id >> 2;
        uint256 shift = (id & 3) * 64;
        uint256 lanes = _providerBalances[index];
        uint256 balance = ((lanes >> shift) & LANE_MASK) + amount;
        // A uint64 lane holds ~18 trillion credits; reaching it would need more credits than could exist.
        if (balance > LANE_MASK) revert BalanceOverflow();
        _providerBalances[index] = (lanes & ~(LANE_MASK << shift)) | (balance << shift);
    }

    function _addEscrowed(uint256 books, uint256 amount) private pure returns (uint256) {
        if ((books & BOOKS_MASK_88) + amount > BOOKS_MASK_88) revert BalanceOverflow();
        return books + amount;
    }

    function _split(uint256 delta, uint256 books) private pure returns (uint256 net, uint256 fee) {
        fee = delta * ((books >> BOOKS_FEE_BPS_SHIFT) & 0x7FFF) / BPS;
        net = delta - fee;
    }

    /// @dev escrowed -= released; owed += owedAdded; fees += feesAdded. Each lane is checked so that a carry
    /// can never spill into its neighbour.
    function _applyToBooks(uint256 books, uint256 released, uint256 owedAdded, uint256 feesAdded)
        private
        pure
        returns (uint256)
    {
        uint256 escrowed = (books & BOOKS_MASK_88) - released;
        uint256 owed = ((books >> BOOKS_OWED_SHIFT) & BOOKS_MASK_88) + owedAdded;
        uint256 fees = ((books >> BOOKS_FEES_SHIFT) & LANE_MASK) + feesAdded;
        if (owed > BOOKS_MASK_88 || fees > LANE_MASK) revert BalanceOverflow();
        return (books & ~BOOKS_TOTALS_MASK) | escrowed | (owed << BOOKS_OWED_SHIFT) | (fees << BOOKS_FEES_SHIFT);
    }

    function _voucherDigest(bytes32 domainSeparator, uint256 leaseId, uint256 amount, bool isFinal)
        private
        pure
        returns (bytes32 digest)
    {
        bytes32 typeHash = VOUCHER_TYPEHASH;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            mstore(add(m, 0x20), leaseId)
            mstore(add(m, 0x40), amount)
            mstore(add(m, 0x60), isFinal)
            let structHash := keccak256(m, 0x80)
            mstore(m, 0x1901)
            mstore(add(m, 0x20), domainSeparator)
            mstore(add(m, 0x40), structHash)
            digest := keccak256(add(m, 0x1e), 0x42)
        }
    }

    /// @dev The signer of `digest` by compact signature (r, vs), or address(0) when it is malformed or high-s.
    function _recover(bytes32 digest, bytes32 r, bytes32 vs) private view returns (address signer) {
        uint256 s = uint256(vs) & ((1 << 255) - 1);
        if (s > HALF_CURVE_ORDER) return address(0);
        uint256 v = (uint256(vs) >> 255) + 27;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, digest)
            mstore(add(m, 0x20), v)
            mstore(add(m, 0x40), r)
            mstore(add(m, 0x60), s)
            mstore(0x00, 0)
            // ecrecover: returns nothing (leaving 0 in scratch) for an invalid signature.
            pop(staticcall(gas(), 0x01, m, 0x80, 0x00, 0x20))
            signer := mload(0x00)
        }
    }

    function _tenantOf(bytes32 key, uint256 word, address signer) private view returns (address) {
        return word & LEASE_SESSION_KEY != 0 ? _sessionKeyTenants[key] : signer;
    }

    function _depositOf(uint256 word) private pure returns (uint256) {
        return (word >> LEASE_DEPOSIT_SHIFT) & AMOUNT_MASK;
    }

    function _expiryOf(uint256 word) private pure returns (uint256) {
        return (word >> LEASE_EXPIRY_SHIFT) & type(uint40).max;
    }

    function _providerIdOf(uint256 word) private pure returns (uint256) {
        return (word >> LEASE_PROVIDER_SHIFT) & type(uint32).max;
    }
}
