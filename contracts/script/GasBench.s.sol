// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeCredit} from "../src/ComputeCredit.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {Vm} from "../test/utils/Vm.sol";

/// @dev The transactions bench/gas/run.sh measures, broadcast to a real Anvil. Each transaction gets a label,
/// written in broadcast order to $GAS_LABELS, so that the receipts forge records can be named afterwards.
/// Steady state, as the figures are defined: the tenant, the escrow and every provider already hold credits,
/// providers are registered, allowances are unlimited, the fee is 1%, every lease opens on a recycled channel
/// (its word closed, non-zero) and draws its deposit from a tenant balance that stays non-zero, and each voucher
/// writes a lease word non-zero to non-zero. A first lease (a fresh channel, the deposit pulled by transferFrom
/// from a tenant with no balance) is measured beside it.
contract GasBench {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    // Anvil's first three dev accounts: the deployer and operator, a tenant, and a second tenant with no balance.
    uint256 internal constant OPERATOR_KEY = 0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80;
    uint256 internal constant TENANT_KEY = 0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d;
    uint256 internal constant NEW_TENANT_KEY = 0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a;
    uint256 internal constant MANY = 100;
    // The batch of MANY again, from TENANTS tenants with MANY / TENANTS leases each: a bundle per tenant.
    uint256 internal constant TENANTS = 10;
    uint256 internal constant FIRST_LEASES = 10;
    uint256 internal constant DEPOSIT = 1_000e6;
    // The high 64 bits of a Guid v7 of late 2025 (48-bit milliseconds, version 7, 12 random bits): lease tags grow
    // from here, one per lease, so every channel's next lease has a higher tag than its last.
    uint64 internal constant FIRST_TAG = 0x019ABCDE_F0127000;

    ComputeCredit internal credit;
    LeaseEscrow internal escrow;
    string internal labels;
    uint256 internal leaseCount;

    function run() external {
        address tenant = vm.addr(TENANT_KEY);
        address newTenant = vm.addr(NEW_TENANT_KEY);
        address operator = vm.addr(OPERATOR_KEY);

        vm.startBroadcast(OPERATOR_KEY);
        credit = new ComputeCredit(operator);
        _label("deploy_credit");
        escrow = new LeaseEscrow(IERC20(address(credit)), operator, 100, 1 days);
        _label("deploy_escrow");
        escrow.setSettler(operator, true);
        _label("set_settler");
        credit.mint(tenant, 1_000_000_000e6);
        _label("mint");
        credit.mint(newTenant, 1_000_000e6);
        _label("mint");
        credit.mint(operator, 1_000e6);
        _label("mint");
        vm.stopBroadcast();

        vm.startBroadcast(NEW_TENANT_KEY);
        credit.approve(address(escrow), type(uint256).max);
        _label("approve");
        vm.stopBroadcast();

        vm.startBroadcast(TENANT_KEY);
        credit.approve(address(escrow), type(uint256).max);
        _label("approve");
        // The baseline: a plain transfer to an account that holds credits, and to a fresh one.
        credit.transfer(operator, 1e6);
        _label("erc20_transfer");
        credit.transfer(address(0xFEE1), 1e6);
        _label("erc20_transfer_fresh");
        vm.stopBroadcast();

        // Providers 1..MANY: registered and holding a balance (a first lease each on channels 0..MANY-1, settled by
        // a final voucher, which closes the channel and credits the rest of the deposit to the tenant's balance).
        address[] memory providers = new address[](MANY);
        for (uint256 i; i < MANY; ++i) {
            providers[i] = address(uint160(0xA0000 + i));
        }
        uint256[] memory warmup = _openAll(TENANT_KEY, providers, "warmup_open");
        _settle(TENANT_KEY, warmup, 1e6, true, "warmup_settle");
        // A balance the steady-state opens draw on without emptying it.
        vm.startBroadcast(TENANT_KEY);
        escrow.deposit(1_000_000e6);
        _label("deposit");
        vm.stopBroadcast();

        // First leases: a tenant with no balance opens fresh channels; the deposit is pulled by transferFrom.
        _openAll(NEW_TENANT_KEY, _prefix(providers, FIRST_LEASES), "open_lease_first");

        address[] memory one = new address[](MANY);
        for (uint256 i; i < MANY; ++i) {
            one[i] = providers[0];
        }
        uint256[] memory counts = new uint256[](3);
        counts[0] = 1;
        counts[1] = 10;
        counts[2] = MANY;
        for (uint256 c; c < counts.length; ++c) {
            string memory n = vm.toString(counts[c]);
            // Each round opens channels 0..N-1 again, closed by the round before.
            uint256[] memory oneLeases = _openAll(TENANT_KEY, _prefix(one, counts[c]), "open_lease");
            _settle(TENANT_KEY, oneLeases, 2e6, false, string.concat("settle_batch_", n, "_one_provider"));
            if (counts[c] == MANY) {
                _settle(TENANT_KEY, oneLeases, 2e6, false, "replay_batch_100");
                _settle(TENANT_KEY, oneLeases, 3e6, true, "final_batch_100_one_provider");
            } else {
                _settle(TENANT_KEY, oneLeases, 3e6, true, "close");
            }
            uint256[] memory manyLeases = _openAll(TENANT_KEY, _prefix(providers, counts[c]), "open_lease");
            _settle(TENANT_KEY, manyLeases, 2e6, false, string.concat("settle_batch_", n, "_many_providers"));
            _settle(TENANT_KEY, manyLeases, 3e6, true, "close");
            if (counts[c] == 1) continue;

            // The same rounds with the tenant's vouchers under one signature: a bundle of N.
            oneLeases = _openAll(TENANT_KEY, _prefix(one, counts[c]), "open_lease");
            _settleBundle(TENANT_KEY, oneLeases, 2e6, false, string.concat("settle_bundle_", n, "_one_provider"));
            if (counts[c] == MANY) {
                _settleBundle(TENANT_KEY, oneLeases, 2e6, false, "replay_bundle_100");
                _settleBundle(TENANT_KEY, oneLeases, 3e6, true, "final_bundle_100_one_provider");
            } else {
                _settleBundle(TENANT_KEY, oneLeases, 3e6, true, "close");
            }
            manyLeases = _openAll(TENANT_KEY, _prefix(providers, counts[c]), "open_lease");
            _settleBundle(TENANT_KEY, manyLeases, 2e6, false, string.concat("settle_bundle_", n, "_many_providers"));
            _settleBundle(TENANT_KEY, manyLeases, 3e6, true, "close");
        }

        // A batch of 100 from ten tenants, ten leases each: ten bundles in one settleBatch, a signature per tenant.
        uint256[] memory keys = _tenants(providers);
        for (uint256 mix; mix < 2; ++mix) {
            uint256[][] memory ids = new uint256[][](TENANTS);
            for (uint256 t; t < TENANTS; ++t) {
                // One provider for all, or each tenant's leases at ten providers of their own (100 in all).
                address[] memory at = new address[](MANY / TENANTS);
                for (uint256 i; i < at.length; ++i) {
                    at[i] = mix == 0 ? providers[0] : providers[t * at.length + i];
                }
                ids[t] = _openAll(keys[t], at, "open_lease");
            }
            string memory name = mix == 0 ? "settle_bundles_10x10_one_provider" : "settle_bundles_10x10_many_providers";
            _settleBundles(keys, ids, 2e6, false, name);
            _settleBundles(keys, ids, 3e6, true, "close");
        }

        vm.writeFile(vm.envOr("GAS_LABELS", string("gas-labels.txt")), labels);
    }

    /// @dev TENANTS more tenants in the steady state: gas money, credits, a balance in the escrow, and channels
    /// 0..MANY/TENANTS-1 opened and closed once, so that their next leases recycle them.
    function _tenants(address[] memory providers) internal returns (uint256[] memory keys) {
        keys = new uint256[](TENANTS);
        for (uint256 t; t < TENANTS; ++t) {
            keys[t] = uint256(keccak256(abi.encode("gas bench tenant", t)));
            address tenant = vm.addr(keys[t]);
            vm.startBroadcast(OPERATOR_KEY);
            payable(tenant).transfer(10 ether);
            _label("fund");
            credit.mint(tenant, 1_000_000e6);
            _label("mint");
            vm.stopBroadcast();
            vm.startBroadcast(keys[t]);
            credit.approve(address(escrow), type(uint256).max);
            _label("approve");
            escrow.deposit(100_000e6);
            _label("deposit");
            vm.stopBroadcast();
            uint256[] memory warmup = _openAll(keys[t], _prefix(providers, MANY / TENANTS), "warmup_open");
            _settleBundle(keys[t], warmup, 1e6, true, "warmup_settle");
        }
    }

    /// @dev Opens a lease per provider, on the signer's channels 0, 1, 2, ...
    function _openAll(uint256 key, address[] memory providers, string memory label)
        internal
        returns (uint256[] memory ids)
    {
        ids = new uint256[](providers.length);
        uint64 expiry = uint64(block.timestamp + 30 days);
        vm.startBroadcast(key);
        for (uint256 i; i < providers.length; ++i) {
            // 128-bit ids like the market's Guids v7: a growing high half, a random low half.
            ++leaseCount;
            ids[i] =
                (uint256(FIRST_TAG + leaseCount) << 64) | uint64(uint256(keccak256(abi.encode("lease", leaseCount))));
            escrow.openLease(ids[i], i, providers[i], DEPOSIT, expiry);
            _label(label);
        }
        vm.stopBroadcast();
    }

    /// @dev One settleBatch of a voucher per lease, each signed alone (an entry of one) by the signer `key`, the lease
    /// on channel i being ids[i].
    function _settle(uint256 key, uint256[] memory ids, uint256 amount, bool isFinal, string memory label) internal {
        bytes memory entries;
        for (uint256 i; i < ids.length; ++i) {
            (bytes32 r, bytes32 vs) = _sign(
                key,
                escrow.hashVoucher(LeaseEscrow.Voucher({leaseId: ids[i], channel: i, amount: amount, isFinal: isFinal}))
            );
            entries = bytes.concat(entries, bytes1(0x01), r, vs, _packed(ids[i], i, amount, isFinal));
        }
        _broadcastBatch(entries, label, ids.length);
    }

    /// @dev One settleBatch of one entry: the signer's vouchers for all the leases under one signature.
    function _settleBundle(uint256 key, uint256[] memory ids, uint256 amount, bool isFinal, string memory label) internal {
        _broadcastBatch(_bundle(key, ids, amount, isFinal), label, ids.length);
    }

    /// @dev One settleBatch of an entry per signer: keys[t]'s vouchers for ids[t] under one signature.
    function _settleBundles(uint256[] memory keys, uint256[][] memory ids, uint256 amount, bool isFinal, string memory label)
        internal
    {
        bytes memory entries;
        uint256 count;
        for (uint256 t; t < keys.length; ++t) {
            entries = bytes.concat(entries, _bundle(keys[t], ids[t], amount, isFinal));
            count += ids[t].length;
        }
        _broadcastBatch(entries, label, count);
    }

    /// @dev A bundle entry: count | r | vs | the vouchers for ids (lease i on channel i), signed once by `key`.
    function _bundle(uint256 key, uint256[] memory ids, uint256 amount, bool isFinal) internal view returns (bytes memory) {
        LeaseEscrow.Voucher[] memory vouchers = new LeaseEscrow.Voucher[](ids.length);
        bytes memory packed;
        for (uint256 i; i < ids.length; ++i) {
            vouchers[i] = LeaseEscrow.Voucher({leaseId: ids[i], channel: i, amount: amount, isFinal: isFinal});
            packed = bytes.concat(packed, _packed(ids[i], i, amount, isFinal));
        }
        (bytes32 r, bytes32 vs) = _sign(key, escrow.hashVoucherBundle(vouchers));
        // forge-lint: disable-next-line(unsafe-typecast)
        return bytes.concat(bytes1(uint8(ids.length)), r, vs, packed);
    }

    /// @dev The compact (EIP-2098) signature of `digest` by `key`.
    function _sign(uint256 key, bytes32 digest) internal pure returns (bytes32 r, bytes32 vs) {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, digest);
        return (r_, bytes32(uint256(s) | (uint256(v - 27) << 255)));
    }

    /// @dev A voucher as an entry lists it: leaseId (16) | channel (4) | isFinal (1) | amount (6).
    function _packed(uint256 id, uint256 channel, uint256 amount, bool isFinal) internal pure returns (bytes memory) {
        // The packed widths: ids are 128-bit, channels and amounts small.
        // forge-lint: disable-start(unsafe-typecast)
        return
            bytes.concat(bytes16(uint128(id)), bytes4(uint32(channel)), bytes1(isFinal ? 1 : 0), bytes6(uint48(amount)));
        // forge-lint: disable-end(unsafe-typecast)
    }

    function _broadcastBatch(bytes memory entries, string memory label, uint256 count) internal {
        vm.startBroadcast(OPERATOR_KEY);
        escrow.settleBatch(entries);
        _label(string.concat(label, ":", vm.toString(count)));
        vm.stopBroadcast();
    }

    function _prefix(address[] memory all, uint256 count) internal pure returns (address[] memory part) {
        part = new address[](count);
        for (uint256 i; i < count; ++i) {
            part[i] = all[i];
        }
    }

    function _label(string memory label) internal {
        labels = string.concat(labels, label, "\n");
    }
}
