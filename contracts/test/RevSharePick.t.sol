// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../src/RevShare.sol";
import {EntryTree} from "./utils/EntryTree.sol";
import {RevShareFixture} from "./utils/RevShareFixture.sol";

/// @notice `pick` accepts a proven entry of the pool's current set iff its range [before, before + weight) holds
/// seed % totalWeight, so exactly one entry accepts each seed and entry i is picked with probability
/// weight_i / total.
contract RevSharePickTest is RevShareFixture {
    uint256[] internal keys;

    function setUp() public {
        vm.warp(START);
        keys = keyRange(0, 1);
        revShare = deploy(keys, 1);
    }

    function entriesOf(uint96[] memory weights) internal pure returns (RevShare.Entry[] memory entries) {
        entries = new RevShare.Entry[](weights.length);
        for (uint256 i; i < weights.length; ++i) {
            address payee = i % 2 == 0 ? address(uint160(0x1000 + i)) : address(0);
            entries[i] = RevShare.Entry(string.concat("https://ilp.example.com/", vm.toString(i)), weights[i], payee);
        }
    }

    function publish(RevShare.Entry[] memory entries) internal {
        (uint64 version, bytes32 last) = revShare.poolHead(COMMUNITY, POOL);
        submit(poolReport(COMMUNITY, POOL, version + 1, last, entries), keys);
    }

    function fuzzWeights(uint256 salt, uint256 count) internal pure returns (uint96[] memory weights) {
        weights = new uint96[](count);
        for (uint256 i; i < count; ++i) {
            uint256 raw = uint256(keccak256(abi.encode(salt, i)));
            // Mix tiny and huge weights, never zero, their sum within a uint96 as the contract requires.
            weights[i] = uint96(raw % 7 == 0 ? bound(raw >> 8, 1, type(uint96).max / 32) : bound(raw >> 8, 1, 1000));
        }
    }

    /// @dev Whether `pick` accepts `leaf` for `seed`; any refusal other than NotPicked fails the test.
    function accepts(uint256 seed, RevShare.EntryLeaf memory leaf, bytes32[] memory proof)
        internal
        view
        returns (bool)
    {
        try revShare.pick(COMMUNITY, POOL, seed, leaf, proof) returns (address payee, bytes32 walletHash) {
            assertEq(payee, leaf.payee, "picked payee");
            assertEq(walletHash, leaf.walletHash, "picked wallet hash");
            return true;
        } catch (bytes memory reason) {
            uint256 target = revShare.pickTarget(COMMUNITY, POOL, seed);
            assertEq(
                reason,
                abi.encodeWithSelector(RevShare.NotPicked.selector, target, leaf.before, uint256(leaf.weight)),
                "refusal of an entry whose range misses the target"
            );
            return false;
        }
    }

    function test_eachEntryIsPickedExactlyOnItsRange() public {
        uint96[] memory weights = new uint96[](4);
        weights[0] = 3;
        weights[1] = 1;
        weights[2] = 5;
        weights[3] = 2;
        RevShare.Entry[] memory entries = entriesOf(weights);
        publish(entries);
        uint256[4] memory from = [uint256(0), 3, 4, 9];
        for (uint256 i; i < 4; ++i) {
            RevShare.EntryLeaf memory leaf = EntryTree.leafOf(entries, i);
            bytes32[] memory proof = EntryTree.proof(entries, i);
            assertEq(leaf.before, from[i], "the entry's range starts after the weights ahead of it");
            for (uint256 target; target < 11; ++target) {
                bool inRange = target >= from[i] && target < from[i] + weights[i];
                assertTrue(accepts(target, leaf, proof) == inRange, "accepted exactly on its range");
            }
        }
    }

    function testFuzz_exactlyOneEntryAcceptsEachTargetOfACycle(uint256 salt, uint256 count, uint256 cycle) public {
        count = bound(count, 1, 7);
        uint96[] memory weights = new uint96[](count);
        uint256 total;
        for (uint256 i; i < count; ++i) {
            weights[i] = uint96(bound(uint256(keccak256(abi.encode(salt, i))), 1, 9));
            total += weights[i];
        }
        RevShare.Entry[] memory entries = entriesOf(weights);
        publish(entries);
        cycle = bound(cycle, 0, type(uint256).max / total - 1);
        RevShare.EntryLeaf[] memory leaves = new RevShare.EntryLeaf[](count);
        bytes32[][] memory proofs = new bytes32[][](count);
        for (uint256 i; i < count; ++i) {
            leaves[i] = EntryTree.leafOf(entries, i);
            proofs[i] = EntryTree.proof(entries, i);
        }
        uint256[] memory picked = new uint256[](count);
        for (uint256 k; k < total; ++k) {
            uint256 accepted;
            for (uint256 i; i < count; ++i) {
                if (accepts(cycle * total + k, leaves[i], proofs[i])) {
                    ++accepted;
                    ++picked[i];
                }
            }
            assertEq(accepted, 1, "entries accepting one target");
        }
        for (uint256 i; i < count; ++i) {
            assertEq(picked[i], weights[i], "times picked over one cycle of seeds");
        }
    }

    function testFuzz_pickAcceptsTheEntryWhoseRangeHoldsTheTarget(uint256 salt, uint256 count, uint256 seed) public {
        count = bound(count, 1, 24);
        RevShare.Entry[] memory entries = entriesOf(fuzzWeights(salt, count));
        publish(entries);
        uint256 total;
        for (uint256 i; i < count; ++i) {
            total += entries[i].weight;
        }
        uint256 target = seed % total;
        assertEq(revShare.pickTarget(COMMUNITY, POOL, seed), target, "pick target");
        uint256 below;
        uint256 expected;
        for (expected = 0; below + entries[expected].weight <= target; ++expected) {
            below += entries[expected].weight;
        }
        for (uint256 i; i < count; ++i) {
            bool picked = accepts(seed, EntryTree.leafOf(entries, i), EntryTree.proof(entries, i));
            assertTrue(picked == (i == expected), "only the entry whose range holds the target is picked");
        }
    }

    function test_aForgedLeafIsRefusedWithInvalidProof() public {
        RevShare.Entry[] memory entries = sampleEntries(); // ranges: alice [0, 50), bob [50, 80), carol [80, 100)
        publish(entries);
        bytes32[] memory proof = EntryTree.proof(entries, 1);
        RevShare.EntryLeaf memory bob = EntryTree.leafOf(entries, 1);
        assertTrue(accepts(60, bob, proof), "bob is picked by 60");

        RevShare.EntryLeaf memory heavier = EntryTree.leafOf(entries, 1);
        heavier.weight = 100;
        expectInvalidProof(10, heavier, proof);
        RevShare.EntryLeaf memory redirected = EntryTree.leafOf(entries, 1);
        redirected.payee = address(0xBAD);
        expectInvalidProof(60, redirected, proof);
        RevShare.EntryLeaf memory moved = EntryTree.leafOf(entries, 1);
        moved.before = 0;
        expectInvalidProof(10, moved, proof);
        RevShare.EntryLeaf memory renamed = EntryTree.leafOf(entries, 1);
        renamed.walletHash = keccak256("https://evil.example.com/");
        expectInvalidProof(60, renamed, proof);
        expectInvalidProof(60, bob, EntryTree.proof(entries, 0));
    }

    function test_anEntryOfAReplacedSetIsRefused() public {
        RevShare.Entry[] memory old = sampleEntries();
        publish(old);
        RevShare.Entry[] memory next = sampleEntries();
        next[0].wallet = "https://ilp.example.com/alice-new";
        publish(next);
        expectInvalidProof(0, EntryTree.leafOf(old, 0), EntryTree.proof(old, 0));
        assertTrue(accepts(0, EntryTree.leafOf(next, 0), EntryTree.proof(next, 0)), "the new entry is picked");
    }

    function test_aOneEntryPoolPicksItsEntryWithAnEmptyProof() public {
        uint96[] memory weights = new uint96[](1);
        weights[0] = 7;
        RevShare.Entry[] memory entries = entriesOf(weights);
        publish(entries);
        assertEq(EntryTree.proof(entries, 0).length, 0, "proof length");
        assertTrue(accepts(type(uint256).max, EntryTree.leafOf(entries, 0), new bytes32[](0)), "picked");
    }

    function expectInvalidProof(uint256 seed, RevShare.EntryLeaf memory leaf, bytes32[] memory proof) internal {
        vm.expectRevert(abi.encodeWithSelector(RevShare.InvalidProof.selector, EntryTree.leafHash(leaf)));
        revShare.pick(COMMUNITY, POOL, seed, leaf, proof);
    }

    function test_pickRevertsOnEmptyPool() public {
        RevShare.EntryLeaf memory nothing;
        vm.expectRevert(abi.encodeWithSelector(RevShare.EmptyPool.selector, COMMUNITY, POOL));
        revShare.pick(COMMUNITY, POOL, 42, nothing, new bytes32[](0));
        vm.expectRevert(abi.encodeWithSelector(RevShare.EmptyPool.selector, COMMUNITY, POOL));
        revShare.pickTarget(COMMUNITY, POOL, 42);
    }

    function test_pickRevertsOnPoolEmptiedByAReport() public {
        uint96[] memory weights = new uint96[](1);
        weights[0] = 1;
        RevShare.Entry[] memory entries = entriesOf(weights);
        publish(entries);
        publish(new RevShare.Entry[](0));
        RevShare.EntryLeaf memory gone = EntryTree.leafOf(entries, 0);
        vm.expectRevert(abi.encodeWithSelector(RevShare.EmptyPool.selector, COMMUNITY, POOL));
        revShare.pick(COMMUNITY, POOL, 0, gone, new bytes32[](0));
    }
}
