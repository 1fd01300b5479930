// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title OrleansCompute Credit
/// @notice The ERC-20 compute credit that tenants escrow and providers are paid in.
/// @dev Six decimals, like the dollar stablecoins that prices are quoted against.
contract ComputeCredit is ERC20, Ownable {
    /// @param initialOwner The account allowed to mint credits.
    constructor(address initialOwner) ERC20("OrleansCompute Credit", "OCC") Ownable(initialOwner) {}

    /// @notice Number of decimals of a credit amount: 1 OCC = 1_000_000 base units.
    /// @return The number of decimals, 6.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @notice Creates `amount` base units of credit for `to`.
    /// @dev Only the owner. Reverts with `ERC20InvalidReceiver` when `to` is the zero address.
    /// @param to The account credited.
    /// @param amount The amount in base units (6 decimals).
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
