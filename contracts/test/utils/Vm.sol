// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev The forge cheatcodes these tests use, declared as forge-std declares them; the npm copy of
/// forge-std is too old to compile `Test.sol`, so the project keeps its own small interface.
interface Vm {
    function addr(uint256 privateKey) external pure returns (address keyAddr);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function label(address account, string calldata newLabel) external;

    function warp(uint256 newTimestamp) external;
    function chainId(uint256 newChainId) external;
    function getBlockTimestamp() external view returns (uint256 timestamp);

    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;

    function expectRevert() external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function expectEmit(bool checkTopic1, bool checkTopic2, bool checkTopic3, bool checkData, address emitter) external;

    function assume(bool condition) external pure;

    function assertTrue(bool condition, string calldata error) external pure;
    function assertFalse(bool condition, string calldata error) external pure;
    function assertEq(bool left, bool right, string calldata error) external pure;
    function assertEq(uint256 left, uint256 right, string calldata error) external pure;
    function assertEq(address left, address right, string calldata error) external pure;
    function assertEq(bytes32 left, bytes32 right, string calldata error) external pure;
    function assertEq(string calldata left, string calldata right, string calldata error) external pure;
    function assertLe(uint256 left, uint256 right, string calldata error) external pure;
    function assertGe(uint256 left, uint256 right, string calldata error) external pure;
}
