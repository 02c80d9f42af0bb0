// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../../src/RevShare.sol";
import {ReportEncoder} from "./ReportEncoder.sol";

/// @notice The tests' own entry tree, written from its definition rather than from the contract's code, so that a
/// root or proof built here checks the contract's tree too. Leaf i is keccak256(keccak256(entryHash_i ‖ before_i)),
/// with entryHash_i the entry's EIP-712 hashStruct (ReportEncoder) and before_i the sum of the weights ahead of it.
/// A level hashes neighbours left to right, the smaller hash first; an odd last node rises unchanged. One leaf is
/// its own root; no entries give zero. A proof lists the siblings bottom-up and skips a level where the node rose
/// alone, which is what OpenZeppelin's MerkleProof walks.
library EntryTree {
    /// @dev Entry `index` as the tree commits to it, with the weights ahead of it summed.
    function leafOf(RevShare.Entry[] memory entries, uint256 index)
        internal
        pure
        returns (RevShare.EntryLeaf memory leaf)
    {
        uint256 before;
        for (uint256 i; i < index; ++i) {
            before += entries[i].weight;
        }
        RevShare.Entry memory entry = entries[index];
        return RevShare.EntryLeaf(keccak256(bytes(entry.wallet)), entry.weight, entry.payee, before);
    }

    function leafHash(RevShare.EntryLeaf memory leaf) internal pure returns (bytes32) {
        bytes32 entryHash = ReportEncoder.entryHash(leaf.walletHash, leaf.weight, leaf.payee);
        return keccak256(bytes.concat(keccak256(bytes.concat(entryHash, bytes32(leaf.before)))));
    }

    function leafHashes(RevShare.Entry[] memory entries) internal pure returns (bytes32[] memory hashes) {
        hashes = new bytes32[](entries.length);
        uint256 before;
        for (uint256 i; i < entries.length; ++i) {
            RevShare.Entry memory entry = entries[i];
            hashes[i] = leafHash(RevShare.EntryLeaf(keccak256(bytes(entry.wallet)), entry.weight, entry.payee, before));
            before += entry.weight;
        }
    }

    function hashPair(bytes32 a, bytes32 b) internal pure returns (bytes32) {
        return a < b ? keccak256(bytes.concat(a, b)) : keccak256(bytes.concat(b, a));
    }

    /// @dev The level above `level`: pairs hashed, an odd last node carried up as it is.
    function parents(bytes32[] memory level) internal pure returns (bytes32[] memory up) {
        up = new bytes32[]((level.length + 1) / 2);
        for (uint256 i; i < up.length; ++i) {
            up[i] = 2 * i + 1 < level.length ? hashPair(level[2 * i], level[2 * i + 1]) : level[2 * i];
        }
    }

    function root(RevShare.Entry[] memory entries) internal pure returns (bytes32) {
        if (entries.length == 0) return bytes32(0);
        bytes32[] memory level = leafHashes(entries);
        while (level.length > 1) {
            level = parents(level);
        }
        return level[0];
    }

    /// @dev The proof of entry `index`: at each level the node's neighbour (index ^ 1), if it has one.
    function proof(RevShare.Entry[] memory entries, uint256 index) internal pure returns (bytes32[] memory path) {
        bytes32[] memory level = leafHashes(entries);
        bytes32[] memory siblings = new bytes32[](256);
        uint256 depth;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) siblings[depth++] = level[sibling];
            level = parents(level);
            index /= 2;
        }
        path = new bytes32[](depth);
        for (uint256 i; i < depth; ++i) {
            path[i] = siblings[i];
        }
    }
}
