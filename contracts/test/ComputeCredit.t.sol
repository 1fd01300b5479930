// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeCredit} from "../src/ComputeCredit.sol";
import {TestBase} from "./utils/TestBase.sol";

contract ComputeCreditTest is TestBase {
    address internal owner = address(0xC0FFEE);
    address internal holder = address(0xA1);
    ComputeCredit internal credit;

    function setUp() public {
        credit = new ComputeCredit(owner);
    }

    function test_has_name_symbol_and_six_decimals() public view {
        vm.assertEq(credit.name(), "OrleansCompute Credit", "name");
        vm.assertEq(credit.symbol(), "OCC", "symbol");
        vm.assertEq(uint256(credit.decimals()), 6, "decimals");
        vm.assertEq(credit.totalSupply(), 0, "supply");
    }

    function test_constructor_sets_owner() public view {
        vm.assertEq(credit.owner(), owner, "owner");
    }

    function test_constructor_rejects_zero_owner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new ComputeCredit(address(0));
    }

    function test_owner_mints_to_any_account() public {
        vm.expectEmit(true, true, false, true, address(credit));
        emit IERC20.Transfer(address(0), holder, 5e6);
        vm.prank(owner);
        credit.mint(holder, 5e6);
        vm.assertEq(credit.balanceOf(holder), 5e6, "balance");
        vm.assertEq(credit.totalSupply(), 5e6, "supply");
    }

    function test_mint_reverts_for_non_owner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, holder));
        vm.prank(holder);
        credit.mint(holder, 1);
    }

    function test_mint_reverts_to_zero_address() public {
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InvalidReceiver.selector, address(0)));
        vm.prank(owner);
        credit.mint(address(0), 1);
    }

    function test_new_owner_can_mint_after_ownership_transfer() public {
        vm.prank(owner);
        credit.transferOwnership(holder);
        vm.prank(holder);
        credit.mint(holder, 7);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        vm.prank(owner);
        credit.mint(owner, 1);
    }

    function test_credits_transfer_like_any_erc20() public {
        vm.prank(owner);
        credit.mint(holder, 10e6);
        vm.prank(holder);
        vm.assertTrue(credit.transfer(owner, 4e6), "transfer returns true");
        vm.assertEq(credit.balanceOf(holder), 6e6, "holder");
        vm.assertEq(credit.balanceOf(owner), 4e6, "owner");
    }

    function testFuzz_mint_adds_to_balance_and_supply(address to, uint128 first, uint128 second) public {
        vm.assume(to != address(0));
        vm.startPrank(owner);
        credit.mint(to, first);
        credit.mint(to, second);
        vm.stopPrank();
        vm.assertEq(credit.balanceOf(to), uint256(first) + second, "balance");
        vm.assertEq(credit.totalSupply(), uint256(first) + second, "supply");
    }
}
