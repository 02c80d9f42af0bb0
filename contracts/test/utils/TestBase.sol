// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Vm} from "./Vm.sol";

/// @notice A minimal stand-in for forge-std's Test: the cheatcode handle, assertions that revert with a message
/// saying what was expected and what was found, a `bound` for fuzz inputs, and ds-test style log events that
/// forge prints with -vv.
abstract contract TestBase {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    event log_named_uint(string key, uint256 val);
    event log_named_string(string key, string val);

    function assertTrue(bool condition, string memory what) internal pure {
        if (!condition) revert(string.concat(what, ": expected true, found false"));
    }

    function assertEq(uint256 found, uint256 expected, string memory what) internal pure {
        if (found != expected) {
            revert(string.concat(what, ": expected ", vm.toString(expected), ", found ", vm.toString(found)));
        }
    }

    function assertEq(bytes32 found, bytes32 expected, string memory what) internal pure {
        if (found != expected) {
            revert(string.concat(what, ": expected ", vm.toString(expected), ", found ", vm.toString(found)));
        }
    }

    function assertEq(address found, address expected, string memory what) internal pure {
        if (found != expected) {
            revert(string.concat(what, ": expected ", vm.toString(expected), ", found ", vm.toString(found)));
        }
    }

    function assertEq(string memory found, string memory expected, string memory what) internal pure {
        if (keccak256(bytes(found)) != keccak256(bytes(expected))) {
            revert(string.concat(what, ": expected '", expected, "', found '", found, "'"));
        }
    }

    function assertEq(bytes memory found, bytes memory expected, string memory what) internal pure {
        if (keccak256(found) != keccak256(expected)) {
            revert(string.concat(what, ": expected ", vm.toString(expected), ", found ", vm.toString(found)));
        }
    }

    function assertLe(uint256 found, uint256 limit, string memory what) internal pure {
        if (found > limit) {
            revert(string.concat(what, ": expected at most ", vm.toString(limit), ", found ", vm.toString(found)));
        }
    }

    /// @dev Maps any x into [min, max] (inclusive), keeping small inputs in place so shrinking stays readable.
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        uint256 size = max - min;
        if (size == type(uint256).max) return x;
        return min + (x % (size + 1));
    }
}
