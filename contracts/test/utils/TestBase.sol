// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @dev What every test contract and handler shares: the cheatcodes and input bounding.
abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Order of the secp256k1 group: private keys are in [1, SECP256K1_N).
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /// @dev Maps any fuzzed `x` into [min, max], keeping small inputs as they are where possible,
    /// as forge-std's `bound` does.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (x >= min && x <= max) return x;
        // Not the whole uint256 range here (that returned above), so the size does not overflow.
        return min + x % (max - min + 1);
    }
}
