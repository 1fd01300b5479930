// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title OrleansCompute lease escrow, v5
/// @notice One payment channel per lease. The tenant escrows a deposit; the lease's signer (the tenant, or a
/// session key the tenant names when opening) signs EIP-712 vouchers for the cumulative amount owed; anyone
/// may redeem them, one by one or many leases per call. A final voucher from a settler the owner names or from the
/// lease's provider closes the lease and credits the rest to the tenant's balance in the escrow; from anyone else
/// it pays what it says and brings the lease's expiry forward to now, so that the provider's own vouchers still
/// settle during the claim window and anyone may refund the rest after it. After expiry plus the claim window anyone
/// may credit the unpaid deposit to the tenant. Tenants, providers and the fee recipient all withdraw by pull:
/// credits leave the escrow only through a withdrawal. The owner can pause new leases (nothing else) and set a fee
/// up to a hard cap for leases opened after; it can never touch escrowed funds, change a lease's fee, block a
/// settlement, a refund or a withdrawal.
/// @dev Lease words are recycled. Each signer owns numbered channels; channel c of signer s is the storage word at
/// key = keccak256(abi.encodePacked(s, uint96(c))), used directly as the storage slot. It cannot collide with a
/// mapping's slots (their preimages are 64 bytes), nor with the data of a long string or array at slot p (preimage
/// bytes32(p), a small number): that would need the signer to be address(0), which never signs.
/// A lease keeps its 128-bit id, the market's Guid; the word holds the id's high 64 bits as the lease's tag (for a
/// Guid v7, its timestamp part), and only the tag is compared: a voucher whose id differs in its low bits could only
/// come from the lease's own signer, for the one lease that tag names on the channel.
/// A channel takes a new lease only when its word is empty or closed and the new tag is above the old one, so a
/// (signer, channel, tag) names at most one lease ever: vouchers sign the channel and the id, a voucher whose tag
/// is not the word's names no live lease, and old vouchers can never pay a channel's later lease. After the first
/// lease on a channel, opening rewrites a non-zero word instead of creating one.
/// Everything settlement needs sits in that one word (see the LEASE_* layout); the tenant of a session-key lease
/// lives in a second word that only refunds read.
/// Tenants hold balances here: deposit() adds to one, closing a lease credits the unpaid deposit to one, and
/// openLease/topUp draw from it first and pull only the shortfall by transferFrom. The books keep one total for
/// what is held for tenants (open escrows plus tenant balances), so moving credits between a tenant's balance and
/// its leases writes no books. Conservation, checkable at any block:
/// credit.balanceOf(this) == totalHeld + totalOwed + feesAccrued, and totalHeld == sum over open leases of
/// (deposit - paid) + sum of tenant balances.
contract LeaseEscrow is EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice A signer's promise that `amount` in total (not a delta) is owed for lease `leaseId` on `channel`.
    /// @dev `isFinal` closes the lease and credits `deposit - amount` to the tenant's balance.
    struct Voucher {
        uint256 leaseId;
        uint256 channel;
        uint256 amount;
        bool isFinal;
    }

    /// @notice Why a batch item was not applied (event SettleRejected). Stale items are skipped silently.
    uint8 public constant REJECT_BAD_SIGNATURE = 1;
    uint8 public constant REJECT_UNKNOWN_LEASE = 2;
    uint8 public constant REJECT_LEASE_CLOSED = 3;
    uint8 public constant REJECT_EXCEEDS_DEPOSIT = 4;
    uint8 public constant REJECT_CLAIM_WINDOW_OVER = 5;
    uint8 public constant REJECT_NOT_SETTLER = 6;
    /// @notice The voucher's lease closed before and a later lease of the signer took its channel: whatever it was
    /// paid is in its own Settled and LeaseClosed events (a retry of a batch that settled it lands here).
    uint8 public constant REJECT_LEASE_REPLACED = 7;

    /// @notice The highest fee the owner can ever set, in basis points (10%).
    uint256 public constant MAX_FEE_BPS = 1_000;
    /// @notice The longest claim window the escrow can be deployed with.
    uint256 public constant MAX_CLAIM_WINDOW = 365 days;
    /// @notice The largest deposit of one lease, in credit base units (uint48: ~281 million credits at 6 decimals).
    uint256 public constant MAX_DEPOSIT = type(uint48).max;
    /// @notice The highest channel number (channels are uint32, so batch items and records carry 4 bytes).
    uint256 public constant MAX_CHANNEL = type(uint32).max;
    /// @notice Bytes before the vouchers of a settleBatch entry: count (1) | r (32) | vs (32), the signature of them all.
    uint256 public constant BATCH_ENTRY_HEADER_SIZE = 65;
    /// @notice Bytes per voucher of a settleBatch entry: leaseId (16) | channel (4) | isFinal (1) | amount (6).
    uint256 public constant BATCH_ITEM_SIZE = 27;
    /// @notice The most vouchers one signature can cover: a bundle's count is one byte.
    uint256 public constant MAX_BUNDLE = 255;

    /// @dev keccak256("Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)"), a literal for the assembly.
    bytes32 private constant VOUCHER_TYPEHASH = 0x4f4174089c7395db311d35fc77933308410ac47a435dd44e13f4c7c38e5a34b1;
    /// @dev keccak256("VoucherBundle(Voucher[] vouchers)Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool
    /// isFinal)"), a literal for the assembly.
    bytes32 private constant VOUCHER_BUNDLE_TYPEHASH =
        0xa1d6957b8a53b53d0f06dfd941d0f6febc8b26117d3286768c7b6aca481b772b;
    /// @dev The SettleRejected topic, as a literal for the assembly.
    bytes32 private constant SETTLE_REJECTED_TOPIC = 0x66b8472b550424362a43b8facddcb42494d9d080350bb0596e336459278a461b;
    bytes32 private constant SESSION_KEY_TYPEHASH =
        keccak256("SessionKey(address tenant,uint256 leaseId,uint256 channel)");
    // Signatures with s above half the curve order are the malleable twins of valid ones (EIP-2).
    uint256 private constant HALF_CURVE_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    uint256 private constant BPS = 10_000;

    // One lease word: paid | deposit | expiry | providerId | flags | fee bps | tag. Amounts are uint48 (deposits are
    // capped); the fee is the one in force when the lease opened (10 bits hold MAX_FEE_BPS).
    uint256 private constant AMOUNT_MASK = (1 << 48) - 1;
    uint256 private constant LEASE_DEPOSIT_SHIFT = 48;
    uint256 private constant LEASE_EXPIRY_SHIFT = 96;
    uint256 private constant LEASE_PROVIDER_SHIFT = 136;
    uint256 private constant LEASE_CLOSED = 1 << 168;
    uint256 private constant LEASE_SESSION_KEY = 1 << 169;
    uint256 private constant LEASE_FEE_SHIFT = 170;
    uint256 private constant LEASE_FEE_MASK = 0x3FF;
    uint256 private constant LEASE_TAG_SHIFT = 192; // the lease id's high 64 bits, in the word's top 64
    uint256 private constant ID_TAG_SHIFT = 64;

    // The books word, read once per call: held | owed | fees | fee bps | paused. Held is what the escrow holds for
    // tenants: open escrows plus tenant balances.
    uint256 private constant BOOKS_MASK_88 = (1 << 88) - 1;
    uint256 private constant BOOKS_OWED_SHIFT = 88;
    uint256 private constant BOOKS_FEES_SHIFT = 176;
    uint256 private constant BOOKS_FEE_BPS_SHIFT = 240;
    uint256 private constant BOOKS_PAUSED = 1 << 255;
    uint256 private constant BOOKS_TOTALS_MASK = (1 << BOOKS_FEE_BPS_SHIFT) - 1; // held, owed and fees

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
        uint256 runDelta;
        uint256 paidOut; // what leases newly paid: leaves the tenants' held total (added per run)
        uint256 owedAdded;
        uint256 feesAdded;
        uint256[] finals; // (key, refund << 160 | tenant) per final item, credited after all payments
        uint256 finalCount;
        bytes32 domainSeparator;
        uint256 runFee; // the open run's fees: each lease pays the fee it opened with
        bool closes; // settleBatch: whether its caller may submit final vouchers (a settler)
    }

    IERC20 private immutable _credit;
    uint256 private immutable _claimWindow;

    // Lease words live at their key (see leaseKey), not in a mapping: one keccak finds them.
    mapping(bytes32 key => address tenant) private _sessionKeyTenants;
    mapping(address provider => uint32 id) private _providerIds;
    mapping(uint256 id => address provider) private _providerAddresses;
    mapping(uint256 index => uint256 lanes) private _providerBalances;
    mapping(address tenant => uint256 balance) private _tenantBalances;
    // Who may submit final vouchers for any lease (the market's settlement keys); see settle().
    mapping(address settler => bool allowed) private _settlers;
    uint256 private _providerCount;
    uint256 private _books;

    /// @notice `tenant` escrowed `deposit` for `provider` under lease `leaseId` on channel `channel` of `signer`
    /// (word `key`), until `expiry`. The deposit came first from the tenant's balance, the rest by transfer:
    /// min(balance, deposit) was drawn from the balance.
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
    /// @notice The tenant added `amount` (drawn from its balance first, like a deposit); the lease now holds
    /// `deposit` in total.
    event LeaseToppedUp(bytes32 indexed key, uint256 amount, uint256 deposit);
    /// @notice Vouchers applied by one settle/settleBatch call, as packed runs of one provider each:
    /// run = providerId (4) | count (2) | net (8) | fee (8), then `count` items = signer (20) | channel (4) | paid (6),
    /// where `paid` is the new cumulative total of the lease on that channel and the provider's balance grew by
    /// `net` (plus `fee` to fees).
    event Settled(bytes records);
    /// @notice Batch item for lease `leaseId` was not applied, for `reason` (REJECT_*); nothing of it changed.
    event SettleRejected(uint256 indexed leaseId, uint8 reason);
    /// @notice A final voucher for lease `leaseId` (word `key`) came from neither a settler nor its provider: it paid
    /// what it says (as a Settled record) and the lease now expires at `expiry` (now, unless it had already expired).
    /// Vouchers still settle until `expiry` plus the claim window; then anyone may refund the rest.
    event LeaseClosing(bytes32 indexed key, uint256 indexed leaseId, uint64 expiry);
    /// @notice The lease in word `key` closed (final voucher or refund); `refund` (possibly 0) went to `tenant`'s
    /// balance in the escrow.
    event LeaseClosed(bytes32 indexed key, address indexed tenant, uint256 refund);
    /// @notice `tenant` paid `amount` into its balance.
    event Deposited(address indexed tenant, uint256 amount);
    /// @notice `tenant` withdrew its whole balance.
    event BalanceWithdrawn(address indexed tenant, uint256 amount);
    /// @notice `provider` received id `providerId`, the id Settled records name it by.
    event ProviderRegistered(address indexed provider, uint32 indexed providerId);
    /// @notice `provider` withdrew its whole balance.
    event Withdrawn(address indexed provider, uint256 amount);
    /// @notice The owner withdrew all accrued fees to `to`.
    event FeesWithdrawn(address indexed to, uint256 amount);
    /// @notice `settler` may now (or may no longer) submit final vouchers.
    event SettlerChanged(address indexed settler, bool allowed);
    /// @notice Leases opened from now on pay a fee of `feeBps` basis points of each amount settled.
    event FeeChanged(uint256 feeBps);
    /// @notice Opening leases is now paused (or not).
    event PauseChanged(bool paused);

    /// @notice `openLease` on a channel whose lease is still open.
    error LeaseExists(bytes32 key);
    /// @notice `openLease` with an id whose tag (high 64 bits) is not above that of the channel's previous lease.
    error StaleLeaseId(bytes32 key, uint256 leaseId, uint256 previousTag);
    /// @notice No lease has this signer, channel and id (for a voucher: the signature is not the lease signer's).
    error UnknownLease(address signer, uint256 leaseId);
    /// @notice The lease is closed (final voucher, refund, or a later lease took its channel).
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
    /// @notice Opening a lease while paused.
    error Paused();
    /// @notice A zero address where an account is needed.
    error ZeroAddress();
    /// @notice A deposit or top-up of 0.
    error ZeroDeposit();
    /// @notice A deposit (after a top-up: the total) above MAX_DEPOSIT.
    error DepositTooLarge(uint256 deposit);
    /// @notice A lease id wider than 128 bits.
    error LeaseIdTooLarge(uint256 leaseId);
    /// @notice A channel above MAX_CHANNEL.
    error ChannelTooLarge(uint256 channel);
    /// @notice An expiry not after now, or beyond uint40.
    error BadExpiry(uint256 expiry);
    /// @notice A top-up after the lease's expiry.
    error LeaseExpired(bytes32 key, uint256 expiry);
    /// @notice A top-up by someone other than the lease's tenant.
    error NotTenant(address caller);
    /// @notice `withdraw`, `withdrawBalance` or `withdrawFees` with nothing to pay.
    error NothingToWithdraw();
    /// @notice `setFee` above MAX_FEE_BPS.
    error FeeTooHigh(uint256 feeBps);
    /// @notice A claim window above MAX_CLAIM_WINDOW in the constructor.
    error ClaimWindowTooLong(uint256 claimWindow);
    /// @notice A total that would not fit its packed lane (more credits than could ever exist).
    error BalanceOverflow();
    /// @notice `settleBatch` with no entries, an entry of no vouchers, or an entry cut short.
    error MalformedBatch(uint256 length);
    /// @notice `hashVoucherBundle` of fewer than 2 or more than MAX_BUNDLE vouchers (one voucher is signed as a Voucher).
    error BundleSize(uint256 count);
    /// @notice `renounceOwnership`: an escrow without an owner could never be unpaused nor pay out its fees.
    error OwnershipCannotBeRenounced();

    /// @param credit_ The ERC-20 credit deposits and payments are made in.
    /// @param admin The owner: sets the fee, pauses, withdraws fees.
    /// @param feeBps_ The initial fee, at most MAX_FEE_BPS.
    /// @param claimWindow_ Seconds after a lease's expiry during which vouchers still settle and refunds wait; at most
    /// MAX_CLAIM_WINDOW, so that expiry + claim window never overflows.
    constructor(IERC20 credit_, address admin, uint256 feeBps_, uint256 claimWindow_)
        EIP712("OrleansCompute LeaseEscrow", "5")
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

    // ---------------------------------------------------------------- tenant balances

    /// @notice Pays `amount` credits (pulled from the caller, who must have approved this contract) into the
    /// caller's balance, from which its leases and top-ups draw first.
    /// @dev Not stopped by pause: a balance commits nothing and can always be withdrawn. Reverts with ZeroDeposit or
    /// BalanceOverflow (more than the held total's lane can ever hold). Emits Deposited.
    /// @param amount The credits to add.
    function deposit(uint256 amount) external nonReentrant {
        if (amount == 0) revert ZeroDeposit();
        // The held total bounds every balance: checked first, the balance below cannot overflow.
        _books = _addHeld(_books, amount);
        _tenantBalances[msg.sender] += amount;
        emit Deposited(msg.sender, amount);

        _credit.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @notice Pays the caller its whole tenant balance (refunds of closed leases and unused deposits).
    /// @dev Never paused. Reverts with NothingToWithdraw when it is zero. Emits BalanceWithdrawn.
    function withdrawBalance() external nonReentrant {
        uint256 amount = _tenantBalances[msg.sender];
        if (amount == 0) revert NothingToWithdraw();

        _tenantBalances[msg.sender] = 0;
        _books -= amount;
        emit BalanceWithdrawn(msg.sender, amount);

        _credit.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- leases

    /// @notice Opens lease `leaseId` on the caller's channel `channel`, with the caller as tenant and signer. The
    /// deposit is drawn from the caller's balance, and whatever it lacks is pulled from the caller (who must have
    /// approved this contract for that much).
    /// @dev Reverts with Paused, LeaseIdTooLarge, ChannelTooLarge, ZeroAddress, ZeroDeposit, DepositTooLarge,
    /// BadExpiry, LeaseExists (the channel's lease is open) or StaleLeaseId (the id's tag is not above the
    /// channel's previous lease's). Registers `provider` on its first lease. Emits LeaseOpened.
    /// @param leaseId The lease id, below 2^128; its high 64 bits must exceed those of the channel's previous lease.
    /// @param channel The caller's channel, at most MAX_CHANNEL; see freeChannel.
    /// @param provider The account the vouchers pay.
    /// @param amount The credits escrowed, the most vouchers can pay; at most MAX_DEPOSIT.
    /// @param expiry Unix time the lease ends; vouchers settle until expiry + claimWindow, refunds start after.
    /// @return key The channel's word, leaseKey(caller, channel).
    function openLease(uint256 leaseId, uint256 channel, address provider, uint256 amount, uint256 expiry)
        external
        nonReentrant
        returns (bytes32 key)
    {
        return _open(leaseId, channel, provider, amount, expiry, msg.sender);
    }

    /// @notice Opens lease `leaseId` like `openLease`, but on a channel of `sessionKey`, whose vouchers alone count.
    /// @dev The session key consents by signing the EIP-712 `SessionKey(address tenant,uint256 leaseId,uint256
    /// channel)` (compact r, vs): nobody can name another's key to take its channels. Reverts as `openLease`, or
    /// BadSignature.
    /// @param leaseId The lease id, below 2^128.
    /// @param channel The session key's channel.
    /// @param provider The account the vouchers pay.
    /// @param amount The credits escrowed; at most MAX_DEPOSIT.
    /// @param expiry Unix time the lease ends.
    /// @param sessionKey The only account whose vouchers count for this lease.
    /// @param r The consent signature's r.
    /// @param vs The consent signature's s, with v - 27 in its top bit (EIP-2098).
    /// @return key The channel's word, leaseKey(sessionKey, channel).
    function openLeaseWithSessionKey(
        uint256 leaseId,
        uint256 channel,
        address provider,
        uint256 amount,
        uint256 expiry,
        address sessionKey,
        bytes32 r,
        bytes32 vs
    ) external nonReentrant returns (bytes32 key) {
        if (sessionKey == address(0)) revert ZeroAddress();
        if (_recover(hashSessionKey(msg.sender, leaseId, channel), r, vs) != sessionKey) revert BadSignature(leaseId);
        key = _open(leaseId, channel, provider, amount, expiry, sessionKey);
        if (sessionKey != msg.sender) {
            _storeLease(key, _loadLease(key) | LEASE_SESSION_KEY);
            _sessionKeyTenants[key] = msg.sender;
        }
    }

    /// @notice Adds `amount` credits to the escrow of a live lease, drawn from the caller's balance and the rest
    /// pulled from the caller, its tenant.
    /// @dev Not stopped by pause, which stops only new leases: a top-up keeps a running lease going. Reverts with
    /// UnknownLease, LeaseAlreadyClosed, LeaseExpired (after expiry), NotTenant, ZeroDeposit or DepositTooLarge (new
    /// total above MAX_DEPOSIT). Emits LeaseToppedUp.
    /// @param signer The lease's signer (the tenant unless it named a session key).
    /// @param channel The lease's channel.
    /// @param leaseId The lease id.
    /// @param amount The credits to add.
    function topUp(address signer, uint256 channel, uint256 leaseId, uint256 amount) external nonReentrant {
        uint256 books = _books;
        (bytes32 key, uint256 word) = _liveLease(signer, channel, leaseId);
        uint256 expiry = _expiryOf(word);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > expiry) revert LeaseExpired(key, expiry);
        if (_tenantOf(key, word, signer) != msg.sender) revert NotTenant(msg.sender);
        if (amount == 0) revert ZeroDeposit();
        if (amount > MAX_DEPOSIT) revert DepositTooLarge(amount);
        uint256 newDeposit = _depositOf(word) + amount;
        if (newDeposit > MAX_DEPOSIT) revert DepositTooLarge(newDeposit);

        _storeLease(key, (word & ~(AMOUNT_MASK << LEASE_DEPOSIT_SHIFT)) | (newDeposit << LEASE_DEPOSIT_SHIFT));
        emit LeaseToppedUp(key, amount, newDeposit);
        _draw(books, amount);
    }

    /// @notice Credits the unpaid deposit of lease `leaseId` (on `signer`'s channel `channel`) to its tenant's
    /// balance and closes it. Anyone may call, once expiry + claimWindow has passed.
    /// @dev A final voucher refunds by itself; this is the exit that needs nobody's cooperation. Reverts with
    /// UnknownLease, LeaseAlreadyClosed or NotExpired. Emits LeaseClosed.
    /// @param signer The lease's signer.
    /// @param channel The lease's channel.
    /// @param leaseId The lease id.
    function refund(address signer, uint256 channel, uint256 leaseId) external nonReentrant {
        (bytes32 key, uint256 word) = _liveLease(signer, channel, leaseId);
        uint256 refundableFrom = _expiryOf(word) + _claimWindow;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp <= refundableFrom) revert NotExpired(leaseId, refundableFrom);

        address tenant = _tenantOf(key, word, signer);
        uint256 amount = _depositOf(word) - (word & AMOUNT_MASK);
        _storeLease(key, word | LEASE_CLOSED);
        // Escrow to balance: both are held for tenants, so the books do not change.
        if (amount != 0) _tenantBalances[tenant] += amount;
        emit LeaseClosed(key, tenant, amount);
    }

    // ---------------------------------------------------------------- settlement

    /// @notice Redeems one voucher: credits the lease's provider with what is newly owed (less the lease's fee) and,
    /// for a final voucher from a settler or the lease's provider, closes the lease and credits the rest to the
    /// tenant's balance. Anyone may submit a voucher. A final voucher from anyone else (the tenant leaving without the
    /// market, or someone on its behalf) pays what it says and starts the lease's closing: its expiry comes forward to
    /// now, so that vouchers for more, which the provider may hold, still settle during the claim window, and after it
    /// anyone may refund the rest. Closing at once would let a tenant close for less than it owes.
    /// @dev Reverts with BadSignature, UnknownLease (no such lease of the recovering signer), LeaseAlreadyClosed,
    /// StaleVoucher (also: a closing voucher again), ExceedsDeposit or ClaimWindowOver. Emits Settled when it pays
    /// (LeaseClosed when it closes, LeaseClosing when it starts the closing).
    /// @param leaseId The lease id the voucher names.
    /// @param channel The channel the voucher names.
    /// @param amount The cumulative amount owed.
    /// @param isFinal Whether the voucher closes the lease.
    /// @param r The signature's r.
    /// @param vs The signature's s with v - 27 in its top bit (EIP-2098).
    function settle(uint256 leaseId, uint256 channel, uint256 amount, bool isFinal, bytes32 r, bytes32 vs)
        external
        nonReentrant
    {
        address signer = _recover(_voucherDigest(_domainSeparatorV4(), leaseId, channel, amount, isFinal), r, vs);
        if (signer == address(0)) revert BadSignature(leaseId);
        (bytes32 key, uint256 word) = _redeemable(signer, leaseId, channel, amount, isFinal);
        if (isFinal && !_settlers[msg.sender] && msg.sender != _providerAddresses[_providerIdOf(word)]) {
            uint256 expiry = _expiryOf(word);
            // forge-lint: disable-next-line(block-timestamp)
            if (expiry > block.timestamp) {
                expiry = block.timestamp;
                word = (word & ~(uint256(type(uint40).max) << LEASE_EXPIRY_SHIFT)) | (expiry << LEASE_EXPIRY_SHIFT);
            } else if (amount == word & AMOUNT_MASK) {
                revert StaleVoucher(leaseId, amount, amount); // closing already, and this pays nothing more
            }
            // casting to 'uint64' is safe because expiry fits uint40
            // forge-lint: disable-next-line(unsafe-typecast)
            emit LeaseClosing(key, leaseId, uint64(expiry));
            if (amount == word & AMOUNT_MASK) {
                _storeLease(key, word);
                return;
            }
            isFinal = false;
        }
        Batch memory batch = _newBatch(1);
        _apply(batch, key, word, amount, isFinal, signer, channel);
        _closeRun(batch);
        _book(batch);
    }

    /// @notice Redeems many vouchers, for any leases and providers, in one call. Never reverts for a bad voucher:
    /// stale ones (already paid, replays) are skipped, invalid ones reported by SettleRejected, and each applies
    /// whole or not at all. Consecutive vouchers of one provider are credited together.
    /// @dev `entries` is a packed sequence of entries, each one signature and the vouchers it covers:
    /// count (uint8, 1..MAX_BUNDLE) | r (bytes32) | vs (bytes32) | count × [leaseId (uint128) | channel (uint32) |
    /// isFinal (uint8, 0 or not) | amount (uint48)]. An entry of one voucher is signed as a Voucher (hashVoucher);
    /// an entry of several as a VoucherBundle (hashVoucherBundle): a signer settling many leases at once signs once,
    /// and each of its vouchers then costs no signature calldata and no ecrecover. Vouchers apply in order, so two for
    /// one lease must increase. Final vouchers' refunds are credited after every voucher is applied. Reverts only with
    /// MalformedBatch (or BalanceOverflow, which no real supply reaches). Emits one Settled (when anything applied),
    /// a SettleRejected per invalid voucher (every voucher of an entry whose signature is bad) and a LeaseClosed per
    /// final one. Final vouchers count only from a settler; from anyone else each is refused (reason 6): a provider
    /// closes its own leases, and a tenant starts its lease's closing, with settle().
    /// @param entries The packed entries.
    function settleBatch(bytes calldata entries) external nonReentrant {
        Batch memory batch = _newBatch(_voucherCount(entries));
        batch.domainSeparator = _domainSeparatorV4();
        batch.closes = _settlers[msg.sender];
        // The hot loop, in assembly: per voucher it costs its calldata, its share of one ecrecover and one storage
        // word, and little else. It does what settle() does for one voucher (the tests hold them to it).
        // Run state lives in `batch` (a memory struct: field i at batch + 32 * i) to stay within the stack.
        assembly ("memory-safe") {
            // Batch fields, in declaration order: 0x20 claimWindow, 0x40 records, 0x60 recordsEnd, 0x80 runStart,
            // 0xa0 runProvider, 0xc0 runDelta, 0xe0 paidOut, 0x100 owedAdded, 0x120 feesAdded, 0x140 finals,
            // 0x160 finalCount, 0x180 domainSeparator, 0x1a0 runFee, 0x1c0 closes. A run's item count is not kept: its
            // records say it.

            function reject(leaseId, reason) {
                mstore(0x00, reason)
                log2(0x00, 0x20, SETTLE_REJECTED_TOPIC, leaseId)
            }

            // Credits the open run's provider (net of its leases' fees), adds to the batch totals, writes the run header.
            function closeRun(b, balances) {
                let provider := mload(add(b, 0xa0))
                let delta := mload(add(b, 0xc0))
                let fee := mload(add(b, 0x1a0))
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
                mstore(add(b, 0xe0), add(mload(add(b, 0xe0)), delta))
                mstore(add(b, 0x100), add(mload(add(b, 0x100)), net))
                mstore(add(b, 0x120), add(mload(add(b, 0x120)), fee))
                // providerId (4) | count (2) | net (8) | fee (8), over the first 10 bytes of the run's first item.
                let at := add(add(mload(add(b, 0x40)), 0x20), mload(add(b, 0x80)))
                let runItems := div(sub(sub(mload(add(b, 0x60)), mload(add(b, 0x80))), 22), 30)
                let header := or(or(shl(224, provider), shl(208, runItems)), or(shl(144, net), shl(80, fee)))
                mstore(at, or(header, and(mload(at), 0xffffffffffffffffffff)))
            }

            // scratch holds the voucher struct (0x00..0xa0), then the digest's input: 0x1901 (ending at 0xc0),
            // domain separator, struct hash; then the ecrecover input (0x100..0x180), then signer | channel, the
            // lease key's preimage (0x180); final vouchers' refunds are listed from 0x1a0 (a uint256[] that the free
            // memory pointer then covers: most batches have none, so none is allocated up front), and a bundle's
            // struct hashes go just past the refunds listed so far, used up before the bundle lists its own. The type
            // hash, prefix and domain never change within the loop: written once.
            let scratch := mload(0x40)
            mstore(scratch, VOUCHER_TYPEHASH)
            mstore(add(scratch, 0xa0), 0x1901)
            mstore(add(scratch, 0xc0), mload(add(batch, 0x180)))
            for { let p := entries.offset } lt(p, add(entries.offset, entries.length)) {} {
                let last := add(add(p, 65), mul(byte(0, calldataload(p)), 27)) // past the entry's last voucher

                // The signer: ecrecover of the entry's EIP-712 digest on (r, vs), refusing high s (EIP-2098 compact
                // form). The struct hashed is the one Voucher, or VoucherBundle(Voucher[]) over all of them. In a
                // block so its locals leave the stack.
                let signer := 0
                {
                    let first := add(p, 65)
                    let head := calldataload(first)
                    mstore(add(scratch, 0x20), shr(128, head))
                    mstore(add(scratch, 0x40), and(shr(96, head), 0xffffffff))
                    mstore(add(scratch, 0x60), and(shr(40, head), 0xffffffffffff))
                    mstore(add(scratch, 0x80), iszero(iszero(byte(20, head))))
                    let structHash := keccak256(scratch, 0xa0)
                    if gt(last, add(first, 27)) {
                        let hashes := add(add(scratch, 0x1c0), shl(6, mload(add(batch, 0x160))))
                        mstore(hashes, structHash)
                        let at := add(hashes, 0x20)
                        for { let q := add(first, 27) } lt(q, last) { q := add(q, 27) } {
                            head := calldataload(q)
                            mstore(add(scratch, 0x20), shr(128, head))
                            mstore(add(scratch, 0x40), and(shr(96, head), 0xffffffff))
                            mstore(add(scratch, 0x60), and(shr(40, head), 0xffffffffffff))
                            mstore(add(scratch, 0x80), iszero(iszero(byte(20, head))))
                            mstore(at, keccak256(scratch, 0xa0))
                            at := add(at, 0x20)
                        }
                        let arrayHash := keccak256(hashes, sub(at, hashes))
                        mstore(hashes, VOUCHER_BUNDLE_TYPEHASH)
                        mstore(add(hashes, 0x20), arrayHash)
                        structHash := keccak256(hashes, 0x40)
                    }
                    mstore(add(scratch, 0xe0), structHash)
                    let digest := keccak256(add(scratch, 0xbe), 0x42)
                    let vs := calldataload(add(p, 33))
                    let s := and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
                    if iszero(gt(s, HALF_CURVE_ORDER)) {
                        let input := add(scratch, 0x100)
                        mstore(input, digest)
                        mstore(add(input, 0x20), add(shr(255, vs), 27))
                        mstore(add(input, 0x40), calldataload(add(p, 1)))
                        mstore(add(input, 0x60), s)
                        mstore(0x00, 0)
                        pop(staticcall(gas(), 0x01, input, 0x80, 0x00, 0x20))
                        signer := mload(0x00)
                    }
                }

                for { p := add(p, 65) } lt(p, last) { p := add(p, 27) } {
                    let head := calldataload(p)
                    let leaseId := shr(128, head)
                    let isFinal := iszero(iszero(byte(20, head)))
                    let amount := and(shr(40, head), 0xffffffffffff)
                    if iszero(signer) {
                        reject(leaseId, 1) // REJECT_BAD_SIGNATURE
                        continue
                    }

                    // The channel's word, at key = keccak256(abi.encodePacked(signer, uint96(channel))).
                    mstore(add(scratch, 0x180), or(shl(96, signer), and(shr(96, head), 0xffffffff)))
                    let key := keccak256(add(scratch, 0x180), 0x20)
                    let word := sload(key)
                    if or(iszero(word), lt(shr(192, word), shr(64, leaseId))) {
                        reject(leaseId, 2) // REJECT_UNKNOWN_LEASE
                        continue
                    }
                    if gt(shr(192, word), shr(64, leaseId)) {
                        reject(leaseId, 7) // REJECT_LEASE_REPLACED: a later lease took the channel
                        continue
                    }
                    let paid := and(word, 0xffffffffffff)
                    if and(word, LEASE_CLOSED) {
                        if gt(amount, paid) { reject(leaseId, 3) } // REJECT_LEASE_CLOSED
                        continue // else stale
                    }
                    if lt(amount, paid) { continue } // stale
                    if and(eq(amount, paid), iszero(isFinal)) { continue } // stale
                    let leaseDeposit := and(shr(48, word), 0xffffffffffff)
                    if gt(amount, leaseDeposit) {
                        reject(leaseId, 4) // REJECT_EXCEEDS_DEPOSIT
                        continue
                    }
                    if gt(timestamp(), add(and(shr(96, word), 0xffffffffff), mload(add(batch, 0x20)))) {
                        reject(leaseId, 5) // REJECT_CLAIM_WINDOW_OVER
                        continue
                    }
                    if and(isFinal, iszero(mload(add(batch, 0x1c0)))) {
                        reject(leaseId, 6) // REJECT_NOT_SETTLER
                        continue
                    }

                    // Apply: the new paid (and the closed flag) in the one lease word.
                    sstore(key, or(or(and(word, not(0xffffffffffff)), amount), mul(isFinal, LEASE_CLOSED)))
                    let delta := sub(amount, paid)
                    let provider := and(shr(136, word), 0xffffffff)
                    if iszero(eq(provider, mload(add(batch, 0xa0)))) {
                        if mload(add(batch, 0xa0)) { closeRun(batch, _providerBalances.slot) }
                        mstore(add(batch, 0x80), mload(add(batch, 0x60)))
                        mstore(add(batch, 0x60), add(mload(add(batch, 0x60)), 22))
                        mstore(add(batch, 0xa0), provider)
                        mstore(add(batch, 0xc0), 0)
                        mstore(add(batch, 0x1a0), 0)
                    }
                    mstore(add(batch, 0xc0), add(mload(add(batch, 0xc0)), delta))
                    mstore(add(batch, 0x1a0), add(mload(add(batch, 0x1a0)), div(mul(delta, and(shr(170, word), 0x3ff)), 10000)))
                    // Item record: signer (20) | channel (4) | paid (6), one word whose last 2 bytes the next overwrites.
                    // Built from the key's preimage, signer (20) | 8 zero bytes | channel (4), moving the channel up.
                    mstore(
                        add(add(mload(add(batch, 0x40)), 0x20), mload(add(batch, 0x60))),
                        or(
                            or(
                                and(mload(add(scratch, 0x180)), not(0xffffffff)),
                                shl(64, and(mload(add(scratch, 0x180)), 0xffffffff))
                            ),
                            shl(16, amount)
                        )
                    )
                    mstore(add(batch, 0x60), add(mload(add(batch, 0x60)), 30))

                    if isFinal {
                        let tenant := signer
                        if and(word, LEASE_SESSION_KEY) {
                            mstore(0x00, key)
                            mstore(0x20, _sessionKeyTenants.slot)
                            tenant := sload(keccak256(0x00, 0x40))
                        }
                        let at := add(add(scratch, 0x1c0), shl(6, mload(add(batch, 0x160)))) // finals[2 * finalCount]
                        mstore(at, key)
                        mstore(add(at, 0x20), or(shl(160, sub(leaseDeposit, amount)), tenant))
                        mstore(add(batch, 0x160), add(mload(add(batch, 0x160)), 1))
                    }
                }
            }
            if mload(add(batch, 0xa0)) { closeRun(batch, _providerBalances.slot) }
            let finals := add(scratch, 0x1a0)
            let finalWords := shl(1, mload(add(batch, 0x160)))
            mstore(finals, finalWords)
            mstore(add(batch, 0x140), finals)
            mstore(0x40, add(finals, add(0x20, shl(5, finalWords))))
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

    /// @notice Owner: sets the fee taken from each amount paid to providers, for leases opened from now on.
    /// @dev Reverts with OwnableUnauthorizedAccount or FeeTooHigh (above MAX_FEE_BPS). Emits FeeChanged.
    /// @param feeBps_ The fee in basis points.
    function setFee(uint256 feeBps_) external onlyOwner {
        if (feeBps_ > MAX_FEE_BPS) revert FeeTooHigh(feeBps_);
        _books = (_books & ~(uint256(0x7FFF) << BOOKS_FEE_BPS_SHIFT)) | (feeBps_ << BOOKS_FEE_BPS_SHIFT);
        emit FeeChanged(feeBps_);
    }

    /// @notice Owner: stops (or resumes) opening leases. Top-ups, settlement, refunds, deposits and withdrawals never
    /// stop.
    /// @dev Reverts with OwnableUnauthorizedAccount. Emits PauseChanged.
    /// @param paused_ Whether to pause.
    function setPaused(bool paused_) external onlyOwner {
        _books = paused_ ? _books | BOOKS_PAUSED : _books & ~BOOKS_PAUSED;
        emit PauseChanged(paused_);
    }

    /// @notice Always reverts: the owner can hand the escrow over (`transferOwnership`, then `acceptOwnership`), never
    /// leave it without one.
    /// @dev Reverts with OwnershipCannotBeRenounced.
    function renounceOwnership() public pure override {
        revert OwnershipCannotBeRenounced();
    }

    /// @notice Lets `settler` submit final vouchers (or stops it): the market's settlement keys.
    /// @dev Reverts with OwnableUnauthorizedAccount or ZeroAddress. Emits SettlerChanged.
    /// @param settler The key.
    /// @param allowed Whether it may.
    function setSettler(address settler, bool allowed) external onlyOwner {
        if (settler == address(0)) revert ZeroAddress();
        _settlers[settler] = allowed;
        emit SettlerChanged(settler, allowed);
    }

    /// @notice Whether `account` may submit final vouchers for any lease.
    /// @param account The account.
    /// @return True for a settler.
    function isSettler(address account) external view returns (bool) {
        return _settlers[account];
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

    /// @notice The fee, in basis points of each amount paid, of leases opened from now on (a lease keeps the fee
    /// it opened with: see leaseFeeBps).
    /// @return The fee.
    function feeBps() external view returns (uint256) {
        return (_books >> BOOKS_FEE_BPS_SHIFT) & 0x7FFF;
    }

    /// @notice Whether opening leases is paused.
    /// @return True when paused.
    function paused() external view returns (bool) {
        return _books & BOOKS_PAUSED != 0;
    }

    /// @notice What the escrow holds for tenants: the sum over open leases of deposit - paid, plus every tenant
    /// balance. One total, so that moving credits between a balance and a lease writes no books.
    /// @return The held total.
    function totalHeld() external view returns (uint256) {
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

    /// @notice Credits `tenant` holds in the escrow outside its leases: refunds and deposits, drawn on by its next
    /// leases and top-ups, withdrawable at any time.
    /// @param tenant The tenant.
    /// @return The balance.
    function tenantBalance(address tenant) external view returns (uint256) {
        return _tenantBalances[tenant];
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

    /// @notice Lease `leaseId` on `signer`'s channel `channel`. All zero when there is no such lease (yet); a lease
    /// a later one replaced on its channel reads as closed with the other fields zero (the word holds the later one).
    /// @param signer The lease's signer.
    /// @param channel The lease's channel.
    /// @param leaseId The lease id.
    /// @return tenant The account that funded it and receives refunds.
    /// @return provider The account its vouchers pay.
    /// @return deposit_ The credits escrowed in total.
    /// @return paid The cumulative amount paid to the provider.
    /// @return expiry The unix time it ends.
    /// @return closed Whether a final voucher, a refund or a later lease closed it.
    function lease(address signer, uint256 channel, uint256 leaseId)
        external
        view
        returns (address tenant, address provider, uint256 deposit_, uint256 paid, uint64 expiry, bool closed)
    {
        if (channel > MAX_CHANNEL) return (address(0), address(0), 0, 0, 0, false);
        bytes32 key = leaseKey(signer, channel);
        uint256 word = _loadLease(key);
        uint256 tag = _tagOf(word);
        if (word == 0 || tag < leaseId >> ID_TAG_SHIFT) return (address(0), address(0), 0, 0, 0, false);
        if (tag > leaseId >> ID_TAG_SHIFT) return (address(0), address(0), 0, 0, 0, true);
        return (
            _tenantOf(key, word, signer),
            _providerAddresses[_providerIdOf(word)],
            _depositOf(word),
            word & AMOUNT_MASK,
            uint64(_expiryOf(word)),
            word & LEASE_CLOSED != 0
        );
    }

    /// @notice The fee lease `leaseId` pays on each amount settled, in basis points: the fee in force when it opened.
    /// @dev Reverts with UnknownLease when the channel holds no such lease (or a later one).
    /// @param signer The lease's signer.
    /// @param channel The lease's channel.
    /// @param leaseId The lease id.
    /// @return The fee.
    function leaseFeeBps(address signer, uint256 channel, uint256 leaseId) external view returns (uint256) {
        uint256 word = _loadLease(leaseKey(signer, channel));
        if (word == 0 || _tagOf(word) != leaseId >> ID_TAG_SHIFT) revert UnknownLease(signer, leaseId);
        return (word >> LEASE_FEE_SHIFT) & LEASE_FEE_MASK;
    }

    /// @notice The first channel of `signer`, from `from` on, that can take lease `leaseId` now: one never used,
    /// or one whose lease is closed and has a lower tag. Clients choose channels; this finds one in one call.
    /// @param signer The signer (the tenant, or the session key).
    /// @param from The channel to start from.
    /// @param leaseId The lease to open.
    /// @return channel The channel (the loop ends at the first channel never used, so it always finds one).
    function freeChannel(address signer, uint256 from, uint256 leaseId) external view returns (uint256 channel) {
        uint256 tag = leaseId >> ID_TAG_SHIFT;
        for (channel = from; channel <= MAX_CHANNEL; ++channel) {
            uint256 word = _loadLease(leaseKey(signer, channel));
            if (word == 0 || (word & LEASE_CLOSED != 0 && _tagOf(word) < tag)) return channel;
        }
        revert ChannelTooLarge(channel);
    }

    /// @notice The word of `signer`'s channel `channel`, as events name it.
    /// @param signer The signer.
    /// @param channel The channel.
    /// @return key keccak256(abi.encodePacked(signer, uint96(channel))); reverts ChannelTooLarge above MAX_CHANNEL.
    function leaseKey(address signer, uint256 channel) public pure returns (bytes32 key) {
        // A wider channel would spill into the signer's bits and name another signer's word.
        if (channel > MAX_CHANNEL) revert ChannelTooLarge(channel);
        assembly ("memory-safe") {
            mstore(0x00, or(shl(96, signer), channel))
            key := keccak256(0x00, 0x20)
        }
    }

    /// @notice The EIP-712 digest a lease's signer signs for `voucher`.
    /// @param voucher The voucher.
    /// @return The digest of `Voucher(uint256 leaseId,uint256 channel,uint256 amount,bool isFinal)` in this domain.
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32) {
        return _voucherDigest(_domainSeparatorV4(), voucher.leaseId, voucher.channel, voucher.amount, voucher.isFinal);
    }

    /// @notice The EIP-712 digest a signer signs to settle several of its leases with one signature: the struct
    /// `VoucherBundle(Voucher[] vouchers)`, in this domain. settleBatch takes it for an entry of 2 or more vouchers.
    /// @dev Reverts with BundleSize outside 2..MAX_BUNDLE: one voucher alone is signed as a Voucher (hashVoucher).
    /// @param vouchers The vouchers, in the order the entry lists them.
    /// @return The digest.
    function hashVoucherBundle(Voucher[] calldata vouchers) external view returns (bytes32) {
        if (vouchers.length < 2 || vouchers.length > MAX_BUNDLE) revert BundleSize(vouchers.length);
        bytes32[] memory hashes = new bytes32[](vouchers.length);
        for (uint256 i; i < vouchers.length; ++i) {
            Voucher calldata voucher = vouchers[i];
            hashes[i] = keccak256(
                abi.encode(VOUCHER_TYPEHASH, voucher.leaseId, voucher.channel, voucher.amount, voucher.isFinal)
            );
        }
        return _hashTypedDataV4(keccak256(abi.encode(VOUCHER_BUNDLE_TYPEHASH, keccak256(abi.encodePacked(hashes)))));
    }

    /// @notice The EIP-712 digest a session key signs to consent to sign `tenant`'s lease `leaseId` on `channel`.
    /// @param tenant The tenant opening the lease.
    /// @param leaseId The lease id.
    /// @param channel The session key's channel the lease takes.
    /// @return The digest of `SessionKey(address tenant,uint256 leaseId,uint256 channel)` in this escrow's domain.
    function hashSessionKey(address tenant, uint256 leaseId, uint256 channel) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(SESSION_KEY_TYPEHASH, tenant, leaseId, channel)));
    }

    // ---------------------------------------------------------------- internals

    function _open(uint256 leaseId, uint256 channel, address provider, uint256 amount, uint256 expiry, address signer)
        private
        returns (bytes32 key)
    {
        uint256 books = _books;
        if (books & BOOKS_PAUSED != 0) revert Paused();
        if (leaseId > type(uint128).max) revert LeaseIdTooLarge(leaseId);
        if (provider == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroDeposit();
        if (amount > MAX_DEPOSIT) revert DepositTooLarge(amount);
        // Leases last minutes to days; a validator's few seconds of leeway do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (expiry <= block.timestamp || expiry > type(uint40).max) revert BadExpiry(expiry);
        key = leaseKey(signer, channel); // reverts ChannelTooLarge
        uint256 previous = _loadLease(key);
        uint256 tag = leaseId >> ID_TAG_SHIFT;
        if (previous != 0) {
            if (previous & LEASE_CLOSED == 0) revert LeaseExists(key);
            if (_tagOf(previous) >= tag) revert StaleLeaseId(key, leaseId, _tagOf(previous));
        }

        uint256 id = _providerIds[provider];
        if (id == 0) id = _registerProvider(provider);
        _storeLease(
            key,
            (tag << LEASE_TAG_SHIFT) | (((books >> BOOKS_FEE_BPS_SHIFT) & LEASE_FEE_MASK) << LEASE_FEE_SHIFT)
                | (id << LEASE_PROVIDER_SHIFT) | (expiry << LEASE_EXPIRY_SHIFT) | (amount << LEASE_DEPOSIT_SHIFT)
        );
        // casting to 'uint64' is safe because expiry fits uint40, checked above
        // forge-lint: disable-next-line(unsafe-typecast)
        emit LeaseOpened(key, leaseId, msg.sender, signer, channel, provider, amount, uint64(expiry));
        _draw(books, amount);
    }

    /// @dev Takes `amount` for a lease from the caller: from its balance first (no books change: both are held for
    /// tenants), then the shortfall by transferFrom (held grows by it). The last step of open and topUp.
    function _draw(uint256 books, uint256 amount) private {
        uint256 balance = _tenantBalances[msg.sender];
        uint256 drawn = balance < amount ? balance : amount;
        if (drawn != 0) _tenantBalances[msg.sender] = balance - drawn;
        uint256 shortfall = amount - drawn;
        if (shortfall == 0) return;
        _books = _addHeld(books, shortfall);
        _credit.safeTransferFrom(msg.sender, address(this), shortfall);
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

    /// @dev The open lease `leaseId` on `signer`'s `channel`, or the named revert.
    function _liveLease(address signer, uint256 channel, uint256 leaseId)
        private
        view
        returns (bytes32 key, uint256 word)
    {
        key = leaseKey(signer, channel);
        word = _loadLease(key);
        uint256 tag = _tagOf(word);
        if (word == 0 || tag < leaseId >> ID_TAG_SHIFT) revert UnknownLease(signer, leaseId);
        if (tag > leaseId >> ID_TAG_SHIFT || word & LEASE_CLOSED != 0) revert LeaseAlreadyClosed(key);
    }

    /// @dev The lease a voucher by `signer` names, when the voucher can pay it now; else settle()'s named revert.
    function _redeemable(address signer, uint256 leaseId, uint256 channel, uint256 amount, bool isFinal)
        private
        view
        returns (bytes32 key, uint256 word)
    {
        key = leaseKey(signer, channel);
        word = _loadLease(key);
        if (word == 0 || _tagOf(word) < leaseId >> ID_TAG_SHIFT) revert UnknownLease(signer, leaseId);
        if (_tagOf(word) > leaseId >> ID_TAG_SHIFT) revert LeaseAlreadyClosed(key);
        uint256 paid = word & AMOUNT_MASK;
        if (word & LEASE_CLOSED != 0) {
            if (amount <= paid) revert StaleVoucher(leaseId, amount, paid);
            revert LeaseAlreadyClosed(key);
        }
        if (amount < paid || (amount == paid && !isFinal)) revert StaleVoucher(leaseId, amount, paid);
        if (amount > _depositOf(word)) revert ExceedsDeposit(leaseId, amount, _depositOf(word));
        uint256 settleableUntil = _expiryOf(word) + _claimWindow;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > settleableUntil) revert ClaimWindowOver(leaseId, settleableUntil);
    }

    /// @dev How many vouchers settleBatch's `entries` hold, or MalformedBatch when there are none, an entry holds
    /// none, or the last entry is cut short.
    function _voucherCount(bytes calldata entries) private pure returns (uint256 count) {
        bool wellFormed;
        assembly ("memory-safe") {
            let end := add(entries.offset, entries.length)
            let p := entries.offset
            for {} lt(p, end) {} {
                let n := byte(0, calldataload(p))
                if iszero(n) { break }
                count := add(count, n)
                p := add(p, add(65, mul(n, 27))) // BATCH_ENTRY_HEADER_SIZE + n * BATCH_ITEM_SIZE
            }
            wellFormed := and(eq(p, end), gt(count, 0))
        }
        if (!wellFormed) revert MalformedBatch(entries.length);
    }

    function _newBatch(uint256 count) private view returns (Batch memory batch) {
        batch.books = _books;
        batch.claimWindow = _claimWindow;
        // Worst case every item opens a run: 22 + 30 bytes each, plus a word because items are written as whole
        // words.
        batch.records = new bytes(count * 52 + 32);
    }

    /// @dev settle()'s one checked voucher, applied: the lease word's new paid (closed when final), the batch's one
    /// run and one record, and the refund to credit when final.
    function _apply(
        Batch memory batch,
        bytes32 key,
        uint256 word,
        uint256 amount,
        bool isFinal,
        address signer,
        uint256 channel
    ) private {
        uint256 delta = amount - (word & AMOUNT_MASK);
        word = (word & ~AMOUNT_MASK) | amount;
        if (isFinal) word |= LEASE_CLOSED;
        _storeLease(key, word);

        batch.runProvider = _providerIdOf(word);
        batch.runDelta = delta;
        batch.runFee = delta * ((word >> LEASE_FEE_SHIFT) & LEASE_FEE_MASK) / BPS;
        // The run header (22 bytes, written by _closeRun) and the item: signer (20) | channel (4) | paid (6).
        bytes memory records = batch.records;
        assembly ("memory-safe") {
            mstore(add(records, 54), or(or(shl(96, signer), shl(64, channel)), shl(16, amount)))
        }
        batch.recordsEnd = 52;

        if (isFinal) {
            batch.finals = new uint256[](2);
            batch.finals[0] = uint256(key);
            batch.finals[1] = ((_depositOf(word) - amount) << 160) | uint160(_tenantOf(key, word, signer));
            batch.finalCount = 1;
        }
    }

    /// @dev Books what the batch paid, emits Settled, then credits the refunds of final vouchers to the tenants'
    /// balances (inside the held total, so the books do not change for them).
    function _book(Batch memory batch) private {
        _books = _applyToBooks(batch.books, batch.paidOut, batch.owedAdded, batch.feesAdded);
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
            if (refundAmount != 0) _tenantBalances[tenant] += refundAmount;
            emit LeaseClosed(bytes32(finals[i]), tenant, refundAmount);
        }
    }

    /// @dev Credits the open run's provider, adds to the batch totals and fills in the run's header.
    function _closeRun(Batch memory batch) private {
        uint256 fee = batch.runFee;
        uint256 net = batch.runDelta - fee;
        _creditProvider(batch.runProvider, net);
        batch.paidOut += batch.runDelta;
        batch.owedAdded += net;
        batch.feesAdded += fee;
        // providerId (4) | count (2) | net (8) | fee (8): 22 bytes, over the first 10 bytes of the run's first item.
        uint256 count = (batch.recordsEnd - batch.runStart - 22) / 30;
        uint256 header = (batch.runProvider << 224) | (count << 208) | (net << 144) | (fee << 80);
        bytes memory records = batch.records;
        uint256 runStart = batch.runStart;
        assembly ("memory-safe") {
            let at := add(add(records, 0x20), runStart)
            mstore(at, or(header, and(mload(at), 0xffffffffffffffffffff)))
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

    function _addHeld(uint256 books, uint256 amount) private pure returns (uint256) {
        if (amount > BOOKS_MASK_88 || (books & BOOKS_MASK_88) + amount > BOOKS_MASK_88) revert BalanceOverflow();
        return books + amount;
    }

    /// @dev held -= paidOut; owed += owedAdded; fees += feesAdded. Each lane is checked so that a carry can never
    /// spill into its neighbour.
    function _applyToBooks(uint256 books, uint256 paidOut, uint256 owedAdded, uint256 feesAdded)
        private
        pure
        returns (uint256)
    {
        uint256 held = (books & BOOKS_MASK_88) - paidOut;
        uint256 owed = ((books >> BOOKS_OWED_SHIFT) & BOOKS_MASK_88) + owedAdded;
        uint256 fees = ((books >> BOOKS_FEES_SHIFT) & LANE_MASK) + feesAdded;
        if (owed > BOOKS_MASK_88 || fees > LANE_MASK) revert BalanceOverflow();
        return (books & ~BOOKS_TOTALS_MASK) | held | (owed << BOOKS_OWED_SHIFT) | (fees << BOOKS_FEES_SHIFT);
    }

    function _voucherDigest(bytes32 domainSeparator, uint256 leaseId, uint256 channel, uint256 amount, bool isFinal)
        private
        pure
        returns (bytes32 digest)
    {
        bytes32 typeHash = VOUCHER_TYPEHASH;
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typeHash)
            mstore(add(m, 0x20), leaseId)
            mstore(add(m, 0x40), channel)
            mstore(add(m, 0x60), amount)
            mstore(add(m, 0x80), isFinal)
            let structHash := keccak256(m, 0xa0)
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

    function _loadLease(bytes32 key) private view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(key)
        }
    }

    function _storeLease(bytes32 key, uint256 word) private {
        assembly ("memory-safe") {
            sstore(key, word)
        }
    }

    function _tenantOf(bytes32 key, uint256 word, address signer) private view returns (address) {
        return word & LEASE_SESSION_KEY != 0 ? _sessionKeyTenants[key] : signer;
    }

    function _tagOf(uint256 word) private pure returns (uint256) {
        return word >> LEASE_TAG_SHIFT;
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
