// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../src/RevShare.sol";
import {RevShareFixture} from "./utils/RevShareFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice The signer set kept as contract code and searched in one merge pass: every member is found wherever it
/// sorts, bitmaps name signers by the index the rotation listed them at (not by address order), and a signer who
/// is not a current member is refused for the right reason wherever it sorts among the members.
contract RevShareSignerSetTest is RevShareFixture {
    uint256 internal constant FULL_SET = 32;

    uint256[] internal keys;

    function setUp() public {
        vm.warp(START);
        keys = keyRange(0, 5);
        revShare = deploy(keys, 3);
    }

    /// @dev Submits the first pool report signed by `signing` and returns the signer bitmap of its event.
    function submittedBitmap(uint256[] memory signing) internal returns (uint256 bitmap) {
        vm.recordLogs();
        submit(firstPoolReport(), signing);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "log count");
        (,, bitmap,,,) = abi.decode(logs[0].data, (bytes32, uint64, uint256, bytes32, RevShare.PoolReport, bytes));
    }

    function pickKeys(uint256[] memory from, uint256 mask) internal pure returns (uint256[] memory picked) {
        uint256 count;
        for (uint256 i; i < from.length; ++i) {
            if (mask & (1 << i) != 0) ++count;
        }
        picked = new uint256[](count);
        count = 0;
        for (uint256 i; i < from.length; ++i) {
            if (mask & (1 << i) != 0) picked[count++] = from[i];
        }
    }

    function test_bitmapNamesSignersByTheirListedIndex() public {
        assertEq(submittedBitmap(pickKeys(keys, 0x1a)), 0x1a, "bitmap of keys 1, 3 and 4");
    }

    function test_keptSignerTakesItsIndexInTheNewSet() public {
        uint256[] memory next = new uint256[](3);
        next[0] = keys[4];
        next[1] = signerKey(60);
        next[2] = keys[0];
        submit(signerReport(1, bytes32(0), addressesOf(next), 2), firstKeys(keys, 3));
        uint256[] memory kept = new uint256[](2);
        kept[0] = keys[0];
        kept[1] = keys[4];
        assertEq(submittedBitmap(kept), 0x5, "bitmap of new indices 0 and 2");
    }

    function test_fullSetOf32SignsWithEveryBit() public {
        uint256[] memory full = keyRange(300, FULL_SET);
        submit(signerReport(1, bytes32(0), addressesOf(full), uint8(FULL_SET)), firstKeys(keys, 3));
        (address[] memory signers,,) = revShare.signerSet();
        for (uint256 i; i < FULL_SET; ++i) {
            assertEq(signers[i], vm.addr(full[i]), "signer in listed order");
        }
        assertEq(submittedBitmap(full), 0xffffffff, "bitmap of all 32");
    }

    function testFuzz_anySubsetAtThresholdIsAcceptedWithItsBitmap(uint32 mask) public {
        vm.assume(mask != 0);
        uint256[] memory full = keyRange(300, FULL_SET);
        revShare = deploy(full, 1);
        assertEq(submittedBitmap(pickKeys(full, mask)), mask, "bitmap of the signing subset");
    }

    function testFuzz_strangerIsUnknownWhereverItSorts(uint256 seed) public {
        uint256 stranger = signerKey(10_000 + seed % 1_000_000);
        uint256[] memory signing = new uint256[](4);
        for (uint256 i; i < 3; ++i) {
            signing[i] = keys[((seed >> 128) + i) % 5];
        }
        signing[3] = stranger;
        RevShare.PoolReport memory report = firstPoolReport();
        bytes memory sigs = signSorted(signing, digestOf(report));
        vm.expectRevert(abi.encodeWithSelector(RevShare.UnknownSigner.selector, vm.addr(stranger)));
        revShare.submitPoolReport(report, sigs);
    }

    function testFuzz_rotatedOutMemberIsRefusedWhereverItSorts(uint256 which) public {
        uint256[] memory next = keyRange(50, 3);
        submit(signerReport(1, bytes32(0), addressesOf(next), 2), firstKeys(keys, 3));
        uint256 gone = keys[which % 5];
        uint256[] memory signing = new uint256[](3);
        signing[0] = next[0];
        signing[1] = next[1];
        signing[2] = gone;
        RevShare.PoolReport memory report = firstPoolReport();
        bytes memory sigs = signSorted(signing, digestOf(report));
        vm.expectRevert(abi.encodeWithSelector(RevShare.SignerRotatedOut.selector, vm.addr(gone), uint64(1)));
        revShare.submitPoolReport(report, sigs);
    }

    function test_memberRepeatedAfterAnotherIsADuplicate() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        bytes memory pair = signSorted(firstKeys(keys, 2), digest);
        bytes memory last = new bytes(65);
        for (uint256 i; i < 65; ++i) {
            last[i] = pair[65 + i];
        }
        address repeated = recoverOf(last, digest);
        vm.expectRevert(abi.encodeWithSelector(RevShare.DuplicateSigner.selector, repeated));
        revShare.submitPoolReport(report, bytes.concat(pair, last));
    }
}
