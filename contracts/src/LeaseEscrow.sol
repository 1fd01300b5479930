// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title OrleansCompute lease escrow
/// @notice Holds each lease's deposit in credits and pays the provider against vouchers that the
/// tenant signs for the cumulative amount owed, like a one-way payment channel. A final voucher
/// closes the lease and refunds the rest; after expiry anyone can close an open lease and refund
/// its unpaid deposit to the tenant.
/// @dev Conservation: `credit.balanceOf(this) == totalEscrowed + totalOwed` after every call.
/// Vouchers are EIP-712 typed data in the domain ("OrleansCompute LeaseEscrow", "1", chain id,
/// this contract), so a voucher is valid on one chain, for one escrow, for one lease.
contract LeaseEscrow is EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice A tenant's promise to pay `amount` in total (not a delta) for lease `leaseId`.
    /// @dev `isFinal` closes the lease and refunds `deposit - amount` to the tenant.
    struct Voucher {
        uint256 leaseId;
        uint256 amount;
        bool isFinal;
    }

    /// @dev Three storage slots: {tenant, expiry, closed}, {provider}, {deposit, paid}.
    struct Lease {
        address tenant;
        uint64 expiry;
        bool closed;
        address provider;
        uint128 deposit;
        uint128 paid;
    }

    bytes32 private constant VOUCHER_TYPEHASH = keccak256("Voucher(uint256 leaseId,uint256 amount,bool isFinal)");

    IERC20 private immutable _credit;

    mapping(uint256 leaseId => Lease) private _leases;

    /// @notice Credits a provider has earned and not yet withdrawn.
    mapping(address provider => uint256) public providerBalance;

    /// @notice Sum over open leases of `deposit - paid`.
    uint256 public totalEscrowed;

    /// @notice Sum of all provider balances.
    uint256 public totalOwed;

    /// @notice A tenant funded lease `leaseId` for `provider` with `deposit` credits until `expiry`.
    event LeaseOpened(
        uint256 indexed leaseId, address indexed tenant, address indexed provider, uint256 deposit, uint64 expiry
    );

    /// @notice A voucher for lease `leaseId` was redeemed: `amount` newly paid, `totalPaid` paid so far.
    /// @dev Emitted for every accepted voucher, also a final one that pays nothing new (`amount == 0`).
    event LeaseSettled(uint256 indexed leaseId, address indexed provider, uint256 amount, uint256 totalPaid);

    /// @notice Lease `leaseId` closed and `refund` credits went back to the tenant (possibly 0).
    event LeaseClosed(uint256 indexed leaseId, address indexed tenant, uint256 refund);

    /// @notice `provider` withdrew its whole balance, `amount` credits.
    event Withdrawn(address indexed provider, uint256 amount);

    /// @notice `openLease` with an id already used, by any tenant.
    error LeaseExists(uint256 leaseId);
    /// @notice No lease was opened with this id.
    error UnknownLease(uint256 leaseId);
    /// @notice The lease was closed by a final voucher or a refund.
    error LeaseAlreadyClosed(uint256 leaseId);
    /// @notice `openLease` with a deposit of 0.
    error ZeroDeposit();
    /// @notice A provider (or, in the constructor, the credit token) of address 0.
    error ZeroAddress();
    /// @notice `openLease` with `expiry <= block.timestamp`.
    error ExpiryInPast(uint64 expiry);
    /// @notice A voucher below what is paid already, or equal to it without being final.
    error StaleVoucher(uint256 leaseId, uint256 amount, uint256 paid);
    /// @notice A voucher for more than the lease's deposit.
    error ExceedsDeposit(uint256 leaseId, uint256 amount, uint256 deposit);
    /// @notice The signature is malformed, high-s, or not the tenant's for this voucher, chain and escrow.
    error BadSignature(uint256 leaseId);
    /// @notice `refund` before the lease's expiry.
    error NotExpired(uint256 leaseId, uint64 expiry);
    /// @notice `withdraw` by an account with a zero balance.
    error NothingToWithdraw();
    /// @notice `settleBatch` with different numbers of vouchers and signatures.
    error LengthMismatch();
    /// @notice `settleBatch` with no voucher.
    error EmptyBatch();

    /// @param credit_ The ERC-20 credit that deposits and payments are made in.
    constructor(IERC20 credit_) EIP712("OrleansCompute LeaseEscrow", "1") {
        if (address(credit_) == address(0)) revert ZeroAddress();
        _credit = credit_;
    }

    /// @notice The credit token this escrow holds.
    /// @return The token's address.
    function credit() external view returns (address) {
        return address(_credit);
    }

    /// @notice Opens lease `leaseId` with the caller as tenant, pulling `deposit` credits from the
    /// caller, who must have approved this contract for at least that much.
    /// @dev Reverts with LeaseExists, ZeroAddress (provider), ZeroDeposit or ExpiryInPast
    /// (`expiry <= block.timestamp`). Emits LeaseOpened.
    /// @param leaseId The lease id, unused so far.
    /// @param provider The account paid by the lease's vouchers.
    /// @param deposit The credits escrowed, the most the vouchers can pay.
    /// @param expiry Unix time from which anyone may refund the unpaid deposit; must be in the future.
    function openLease(uint256 leaseId, address provider, uint128 deposit, uint64 expiry) external nonReentrant {
        if (_leases[leaseId].tenant != address(0)) revert LeaseExists(leaseId);
        if (provider == address(0)) revert ZeroAddress();
        if (deposit == 0) revert ZeroDeposit();
        // Lease windows are minutes to hours long; a validator's few seconds of leeway do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (expiry <= block.timestamp) revert ExpiryInPast(expiry);

        _leases[leaseId] =
            Lease({tenant: msg.sender, expiry: expiry, closed: false, provider: provider, deposit: deposit, paid: 0});
        totalEscrowed += deposit;
        emit LeaseOpened(leaseId, msg.sender, provider, deposit, expiry);

        _credit.safeTransferFrom(msg.sender, address(this), deposit);
    }

    /// @notice Redeems a voucher signed by the lease's tenant: credits the provider with the amount
    /// newly owed and, for a final voucher, closes the lease and refunds the rest to the tenant.
    /// @dev Anyone may submit; the signature is the authority. Allowed after expiry while the lease
    /// is open. Reverts with UnknownLease, LeaseAlreadyClosed, ExceedsDeposit, StaleVoucher
    /// (`amount < paid`, or `amount == paid` on a non-final voucher) or BadSignature.
    /// @param voucher The voucher; `amount` is cumulative.
    /// @param signature The tenant's 65-byte r||s||v signature of `hashVoucher(voucher)`.
    function settle(Voucher calldata voucher, bytes calldata signature) external nonReentrant {
        (address tenant, uint256 refundAmount) = _applyVoucher(voucher, signature);
        if (refundAmount != 0) _credit.safeTransfer(tenant, refundAmount);
    }

    /// @notice Redeems several vouchers, for any leases and providers, in one transaction.
    /// @dev Atomic: any invalid voucher reverts the whole batch with that voucher's error (see
    /// `settle`). Vouchers apply in order, so two for one lease must increase. Refunds are paid
    /// after every voucher has been applied. Reverts with EmptyBatch or LengthMismatch first.
    /// @param vouchers The vouchers.
    /// @param signatures The tenants' signatures, one per voucher, in the same order.
    function settleBatch(Voucher[] calldata vouchers, bytes[] calldata signatures) external nonReentrant {
        uint256 count = vouchers.length;
        if (count == 0) revert EmptyBatch();
        if (count != signatures.length) revert LengthMismatch();

        address[] memory tenants = new address[](count);
        uint256[] memory refunds = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            (tenants[i], refunds[i]) = _applyVoucher(vouchers[i], signatures[i]);
        }
        for (uint256 i; i < count; ++i) {
            if (refunds[i] != 0) _credit.safeTransfer(tenants[i], refunds[i]);
        }
    }

    /// @notice Closes an expired lease and returns its unpaid deposit to the tenant. Anyone may call.
    /// @dev Reverts with UnknownLease, LeaseAlreadyClosed or NotExpired (`block.timestamp < expiry`).
    /// Emits LeaseClosed.
    /// @param leaseId The lease to close.
    function refund(uint256 leaseId) external nonReentrant {
        Lease storage lease = _leases[leaseId];
        address tenant = lease.tenant;
        if (tenant == address(0)) revert UnknownLease(leaseId);
        if (lease.closed) revert LeaseAlreadyClosed(leaseId);
        uint64 expiry = lease.expiry;
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < expiry) revert NotExpired(leaseId, expiry);

        uint256 refundAmount = lease.deposit - lease.paid;
        lease.closed = true;
        totalEscrowed -= refundAmount;
        emit LeaseClosed(leaseId, tenant, refundAmount);

        if (refundAmount != 0) _credit.safeTransfer(tenant, refundAmount);
    }

    /// @notice Pays the caller its whole provider balance.
    /// @dev Reverts with NothingToWithdraw when the balance is zero. Emits Withdrawn.
    function withdraw() external nonReentrant {
        uint256 amount = providerBalance[msg.sender];
        if (amount == 0) revert NothingToWithdraw();

        providerBalance[msg.sender] = 0;
        totalOwed -= amount;
        emit Withdrawn(msg.sender, amount);

        _credit.safeTransfer(msg.sender, amount);
    }

    /// @notice A lease as stored. All fields are zero for an unknown lease.
    /// @param leaseId The lease.
    /// @return tenant The account that funded the lease and signs its vouchers.
    /// @return provider The account paid by its vouchers.
    /// @return deposit The credits escrowed when it opened.
    /// @return paid The cumulative amount paid to the provider so far.
    /// @return expiry Unix time from which `refund` is allowed.
    /// @return closed Whether a final voucher or a refund has closed it.
    function leases(uint256 leaseId)
        external
        view
        returns (address tenant, address provider, uint128 deposit, uint128 paid, uint64 expiry, bool closed)
    {
        Lease storage lease = _leases[leaseId];
        return (lease.tenant, lease.provider, lease.deposit, lease.paid, lease.expiry, lease.closed);
    }

    /// @notice The EIP-712 digest a tenant signs for `voucher`.
    /// @param voucher The voucher.
    /// @return The digest of `Voucher(uint256 leaseId,uint256 amount,bool isFinal)` in this escrow's domain.
    function hashVoucher(Voucher calldata voucher) external view returns (bytes32) {
        return _voucherDigest(voucher);
    }

    /// @dev Checks a voucher and applies its effects; returns who gets how much back (non-zero only
    /// when the voucher is final). Transfers are left to the caller.
    function _applyVoucher(Voucher calldata voucher, bytes calldata signature)
        private
        returns (address tenant, uint256 refundAmount)
    {
        uint256 leaseId = voucher.leaseId;
        Lease storage lease = _leases[leaseId];
        tenant = lease.tenant;
        if (tenant == address(0)) revert UnknownLease(leaseId);
        if (lease.closed) revert LeaseAlreadyClosed(leaseId);

        uint256 amount = voucher.amount;
        uint256 deposit = lease.deposit;
        uint256 paid = lease.paid;
        if (amount > deposit) revert ExceedsDeposit(leaseId, amount, deposit);
        if (amount < paid || (amount == paid && !voucher.isFinal)) revert StaleVoucher(leaseId, amount, paid);

        (address signer, ECDSA.RecoverError error,) = ECDSA.tryRecoverCalldata(_voucherDigest(voucher), signature);
        if (error != ECDSA.RecoverError.NoError || signer != tenant) revert BadSignature(leaseId);

        uint256 delta = amount - paid;
        address provider = lease.provider;
        // casting to 'uint128' is safe because amount <= deposit, which is a uint128
        // forge-lint: disable-next-line(unsafe-typecast)
        lease.paid = uint128(amount);
        providerBalance[provider] += delta;
        totalOwed += delta;
        totalEscrowed -= delta;
        emit LeaseSettled(leaseId, provider, delta, amount);

        if (voucher.isFinal) {
            refundAmount = deposit - amount;
            lease.closed = true;
            totalEscrowed -= refundAmount;
            emit LeaseClosed(leaseId, tenant, refundAmount);
        }
    }

    function _voucherDigest(Voucher calldata voucher) private view returns (bytes32) {
        return
            _hashTypedDataV4(keccak256(abi.encode(VOUCHER_TYPEHASH, voucher.leaseId, voucher.amount, voucher.isFinal)));
    }
}
