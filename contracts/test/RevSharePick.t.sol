// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../src/RevShare.sol";
import {RevShareFixture} from "./utils/RevShareFixture.sol";

/// @notice `pick` chooses entry i with probability weight_i / total, exactly, from the caller's seed.
contract RevSharePickTest is RevShareFixture {
    uint256[] internal keys;

    function setUp() public {
        vm.warp(START);
        keys = keyRange(0, 1);
        revShare = deploy(keys, 1);
    }

    function publish(uint96[] memory weights) internal returns (RevShare.Entry[] memory entries) {
        entries = new RevShare.Entry[](weights.length);
        for (uint256 i; i < weights.length; ++i) {
            entries[i] =
                RevShare.Entry(string.concat("https://ilp.example.com/", vm.toString(i)), weights[i], address(0));
        }
        submit(poolReport(COMMUNITY, POOL, 1, bytes32(0), entries), keys);
    }

    function fuzzWeights(uint256 salt, uint256 count) internal pure returns (uint96[] memory weights) {
        weights = new uint96[](count);
        for (uint256 i; i < count; ++i) {
            uint256 raw = uint256(keccak256(abi.encode(salt, i)));
            // Mix tiny and huge weights; never zero, as the contract requires.
            weights[i] = uint96(raw % 7 == 0 ? bound(raw >> 8, 1, type(uint96).max) : bound(raw >> 8, 1, 1000));
        }
    }

    function test_eachEntryIsChosenExactlyWeightTimesOverOneCycleOfSeeds() public {
        uint96[] memory weights = new uint96[](4);
        weights[0] = 3;
        weights[1] = 1;
        weights[2] = 5;
        weights[3] = 2;
        publish(weights);
        uint256[] memory counts = new uint256[](4);
        for (uint256 seed; seed < 11; ++seed) {
            (uint256 index,) = revShare.pick(COMMUNITY, POOL, seed);
            ++counts[index];
        }
        for (uint256 i; i < 4; ++i) {
            assertEq(counts[i], weights[i], "times chosen over seeds 0..total-1");
        }
    }

    function testFuzz_eachEntryIsChosenWeightTimesOverAnyCycle(uint256 salt, uint256 count, uint256 cycle) public {
        count = bound(count, 1, 6);
        uint96[] memory weights = new uint96[](count);
        uint256 total;
        for (uint256 i; i < count; ++i) {
            weights[i] = uint96(bound(uint256(keccak256(abi.encode(salt, i))), 1, 12));
            total += weights[i];
        }
        publish(weights);
        cycle = bound(cycle, 0, type(uint256).max / total - 1);
        uint256[] memory counts = new uint256[](count);
        for (uint256 k; k < total; ++k) {
            (uint256 index,) = revShare.pick(COMMUNITY, POOL, cycle * total + k);
            ++counts[index];
        }
        for (uint256 i; i < count; ++i) {
            assertEq(counts[i], weights[i], "times chosen over one cycle of seeds");
        }
    }

    function testFuzz_pickReturnsAnEntryWithPositiveWeight(uint256 salt, uint256 count, uint256 seed) public {
        count = bound(count, 1, 20);
        RevShare.Entry[] memory entries = publish(fuzzWeights(salt, count));
        (uint256 index, RevShare.Entry memory picked) = revShare.pick(COMMUNITY, POOL, seed);
        assertTrue(index < count, "index within the pool");
        assertTrue(picked.weight > 0, "picked weight is positive");
        assertEq(picked.wallet, entries[index].wallet, "picked entry is the entry at index");
    }

    function testFuzz_pickMatchesTheCumulativeRanges(uint256 salt, uint256 count, uint256 seed) public {
        count = bound(count, 1, 20);
        RevShare.Entry[] memory entries = publish(fuzzWeights(salt, count));
        uint256 total;
        for (uint256 i; i < count; ++i) {
            total += entries[i].weight;
        }
        uint256 target = seed % total;
        uint256 below;
        uint256 expected;
        for (expected = 0; below + entries[expected].weight <= target; ++expected) {
            below += entries[expected].weight;
        }
        (uint256 index,) = revShare.pick(COMMUNITY, POOL, seed);
        assertEq(index, expected, "entry whose range holds seed % total");
    }

    function test_pickRevertsOnEmptyPool() public {
        vm.expectRevert(abi.encodeWithSelector(RevShare.EmptyPool.selector, COMMUNITY, POOL));
        revShare.pick(COMMUNITY, POOL, 42);
    }

    function test_pickRevertsOnPoolEmptiedByAReport() public {
        uint96[] memory weights = new uint96[](1);
        weights[0] = 1;
        publish(weights);
        (, bytes32 last) = revShare.poolHead(COMMUNITY, POOL);
        submit(poolReport(COMMUNITY, POOL, 2, last, new RevShare.Entry[](0)), keys);
        vm.expectRevert(abi.encodeWithSelector(RevShare.EmptyPool.selector, COMMUNITY, POOL));
        revShare.pick(COMMUNITY, POOL, 42);
    }
}
