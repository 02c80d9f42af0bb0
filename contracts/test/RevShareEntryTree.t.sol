// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {RevShare} from "../src/RevShare.sol";
import {EntryTree} from "./utils/EntryTree.sol";
import {RevShareFixture} from "./utils/RevShareFixture.sol";

/// @notice The tests' independent entry tree (utils/EntryTree.sol) against its definition written out by hand,
/// against OpenZeppelin's proof verifier, and against the root and leaves the contract computes.
contract RevShareEntryTreeTest is RevShareFixture {
    uint256[] internal keys;

    function setUp() public {
        vm.warp(START);
        keys = keyRange(0, 1);
        revShare = deploy(keys, 1);
    }

    function entries(uint256 count, uint256 salt) internal pure returns (RevShare.Entry[] memory list) {
        list = new RevShare.Entry[](count);
        for (uint256 i; i < count; ++i) {
            uint256 raw = uint256(keccak256(abi.encode(salt, i)));
            address payee = raw % 2 == 0 ? address(uint160(0x1000 + (raw >> 8) % 1000)) : address(0);
            list[i] = RevShare.Entry(
                string.concat("https://ilp.example.com/", vm.toString(raw % 100)),
                uint96(bound(raw >> 32, 1, 1e9)),
                payee
            );
        }
    }

    function test_leafIsTheDoubleHashOfTheEntryHashAndTheWeightsAhead() public pure {
        RevShare.Entry[] memory list = sampleEntries();
        bytes32[] memory leaves = EntryTree.leafHashes(list);
        bytes32 entryType = keccak256("Entry(string wallet,uint96 weight,address payee)");
        bytes32 carol = keccak256(
            abi.encode(entryType, keccak256("https://ilp.example.net/carol/main"), uint256(20), address(0xCA401))
        );
        assertEq(leaves[2], keccak256(abi.encode(keccak256(abi.encode(carol, uint256(80))))), "carol's leaf");
    }

    function test_rootsOfSmallTreesFollowTheDefinition() public pure {
        RevShare.Entry[] memory list = entries(7, 1);
        bytes32[] memory l = EntryTree.leafHashes(list);
        assertEq(EntryTree.root(entries(0, 1)), bytes32(0), "no entries");
        assertEq(EntryTree.root(prefix(list, 1)), l[0], "one leaf is its own root");
        assertEq(EntryTree.root(prefix(list, 2)), EntryTree.hashPair(l[0], l[1]), "two leaves");
        assertEq(
            EntryTree.root(prefix(list, 3)),
            EntryTree.hashPair(EntryTree.hashPair(l[0], l[1]), l[2]),
            "three: the third rises unchanged"
        );
        bytes32 four = EntryTree.hashPair(EntryTree.hashPair(l[0], l[1]), EntryTree.hashPair(l[2], l[3]));
        assertEq(EntryTree.root(prefix(list, 4)), four, "four");
        assertEq(EntryTree.root(prefix(list, 5)), EntryTree.hashPair(four, l[4]), "five: the fifth rises two levels");
        bytes32 six = EntryTree.hashPair(four, EntryTree.hashPair(l[4], l[5]));
        assertEq(EntryTree.root(prefix(list, 6)), six, "six");
        assertEq(
            EntryTree.root(list),
            EntryTree.hashPair(four, EntryTree.hashPair(EntryTree.hashPair(l[4], l[5]), l[6])),
            "seven"
        );
    }

    function test_proofsSkipTheLevelsWhereTheNodeRoseAlone() public pure {
        RevShare.Entry[] memory list = entries(5, 2);
        bytes32[] memory l = EntryTree.leafHashes(list);
        bytes32[] memory fifth = EntryTree.proof(list, 4);
        assertEq(fifth.length, 1, "the fifth leaf's proof: only the top sibling");
        assertEq(
            fifth[0], EntryTree.hashPair(EntryTree.hashPair(l[0], l[1]), EntryTree.hashPair(l[2], l[3])), "its sibling"
        );
        bytes32[] memory third = EntryTree.proof(list, 2);
        assertEq(third.length, 3, "the third leaf's proof");
        assertEq(third[0], l[3], "its neighbour");
        assertEq(third[1], EntryTree.hashPair(l[0], l[1]), "the left pair");
        assertEq(third[2], l[4], "the fifth leaf, risen");
    }

    function test_everyProofOfTreesOfOneTo33LeavesVerifiesWithOpenZeppelin() public pure {
        RevShare.Entry[] memory list = entries(33, 3);
        for (uint256 count = 1; count <= 33; ++count) {
            RevShare.Entry[] memory some = prefix(list, count);
            bytes32 root = EntryTree.root(some);
            bytes32[] memory leaves = EntryTree.leafHashes(some);
            for (uint256 i; i < count; ++i) {
                bytes32[] memory proof = EntryTree.proof(some, i);
                assertTrue(MerkleProof.verify(proof, root, leaves[i]), "proof verifies");
                if (i + 1 < count) assertTrue(!MerkleProof.verify(proof, root, leaves[i + 1]), "not another's");
            }
        }
    }

    function testFuzz_pairHashIsOpenZeppelinsCommutativeKeccak(bytes32 a, bytes32 b) public pure {
        assertEq(EntryTree.hashPair(a, b), Hashes.commutativeKeccak256(a, b), "pair hash");
        assertEq(EntryTree.hashPair(b, a), EntryTree.hashPair(a, b), "either order");
    }

    function testFuzz_contractRootEqualsTheIndependentTree(uint256 count, uint256 salt) public {
        count = bound(count, 0, 40);
        RevShare.Entry[] memory list = entries(count, salt);
        submit(poolReport(COMMUNITY, POOL, 1, bytes32(0), list), keys);
        (bytes32 root,,) = revShare.poolCommitment(COMMUNITY, POOL);
        assertEq(root, EntryTree.root(list), "pool root");
    }

    function testFuzz_leafOfEqualsTheIndependentLeaf(bytes32 walletHash, uint96 weight, address payee, uint256 before)
        public
        view
    {
        RevShare.EntryLeaf memory leaf = RevShare.EntryLeaf(walletHash, weight, payee, before);
        assertEq(revShare.leafOf(leaf), EntryTree.leafHash(leaf), "leaf hash");
    }

    function prefix(RevShare.Entry[] memory list, uint256 count) internal pure returns (RevShare.Entry[] memory some) {
        some = new RevShare.Entry[](count);
        for (uint256 i; i < count; ++i) {
            some[i] = list[i];
        }
    }
}
