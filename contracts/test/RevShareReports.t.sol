// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../src/RevShare.sol";
import {EntryTree} from "./utils/EntryTree.sol";
import {ReportEncoder} from "./utils/ReportEncoder.sol";
import {RevShareFixture} from "./utils/RevShareFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @dev Submits whatever call it is handed, as a Safe or a relayer's wrapper would: the transaction's calldata is
/// then this contract's, not submitPoolReport's, so only the event can show an auditor the signatures.
contract CallForwarder {
    function execute(address to, bytes calldata data) external returns (bytes memory result) {
        bool ok;
        (ok, result) = to.call(data);
        require(ok, "forwarded call reverted");
    }
}

/// @notice Pool and signer reports: what is accepted, what it changes, and every way a report is refused.
contract RevShareReportsTest is RevShareFixture {
    string internal constant POOL_REPORT_APPLIED =
        "PoolReportApplied(bytes32,bytes32,uint64,bytes32,uint64,uint256,bytes32,(bytes32,bytes32,uint64,bytes32,(string,uint96,address)[],bytes32,uint64,uint64,uint64,uint64),bytes)";
    string internal constant SIGNER_SET_ROTATED =
        "SignerSetRotated(uint64,uint64,bytes32,uint256,(uint64,bytes32,address[],uint8,uint64,uint64,uint64),bytes)";

    uint256[] internal keys;

    function setUp() public {
        vm.warp(START);
        keys = keyRange(0, 5);
        revShare = deploy(keys, 3);
    }

    // ------------------------------------------------------------------ accepted reports

    function test_acceptsOneOfOneReport() public {
        uint256[] memory one = keyRange(100, 1);
        revShare = deploy(one, 1);
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = submit(report, one);
        (uint64 version, bytes32 lastDigest) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 1, "pool version");
        assertEq(lastDigest, digest, "pool last digest");
    }

    function test_acceptsThreeOfFiveReportAndCommitsToItsEntries() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = submit(report, firstKeys(keys, 3));
        (uint64 version, bytes32 lastDigest) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 1, "pool version");
        assertEq(lastDigest, digest, "pool last digest");
        (bytes32 root, uint256 totalWeight, uint256 payeeWeight) = revShare.poolCommitment(COMMUNITY, POOL);
        assertEq(root, EntryTree.root(report.entries), "pool root");
        assertEq(totalWeight, 100, "total weight");
        assertEq(payeeWeight, 70, "payee weight: alice's 50 and carol's 20");
    }

    function test_anUnknownPoolCommitsToNothing() public view {
        (bytes32 root, uint256 totalWeight, uint256 payeeWeight) = revShare.poolCommitment(COMMUNITY, POOL);
        assertEq(root, bytes32(0), "root");
        assertEq(totalWeight, 0, "total weight");
        assertEq(payeeWeight, 0, "payee weight");
    }

    function test_accepts16Of31Report() public {
        uint256[] memory many = keyRange(200, 31);
        revShare = deploy(many, 16);
        submit(firstPoolReport(), firstKeys(many, 16));
        (uint64 version,) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 1, "pool version");
    }

    function test_acceptsMoreSignaturesThanThreshold() public {
        submit(firstPoolReport(), keys);
        (uint64 version,) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 1, "pool version");
    }

    function test_contractDigestEqualsIndependentEncoding() public view {
        RevShare.PoolReport memory report = firstPoolReport();
        assertEq(revShare.hashPoolReport(report), digestOf(report), "pool report digest");
        RevShare.SignerReport memory rotation = signerReport(1, bytes32(0), addressesOf(keyRange(50, 4)), 2);
        assertEq(revShare.hashSignerReport(rotation), digestOf(rotation), "signer report digest");
        assertEq(
            revShare.domainSeparator(),
            ReportEncoder.domainSeparator(block.chainid, address(revShare)),
            "domain separator"
        );
    }

    function test_chainsReportsAndReplacesEntries() public {
        bytes32 digest1 = submit(firstPoolReport(), firstKeys(keys, 3));
        RevShare.Entry[] memory fewer = new RevShare.Entry[](1);
        fewer[0] = RevShare.Entry("https://ilp.example.com/dave", 7, address(0));
        bytes32 digest2 = submit(poolReport(COMMUNITY, POOL, 2, digest1, fewer), firstKeys(keys, 3));
        (bytes32 root, uint256 totalWeight, uint256 payeeWeight) = revShare.poolCommitment(COMMUNITY, POOL);
        assertEq(root, EntryTree.root(fewer), "root after shrinking: dave's leaf");
        assertEq(totalWeight, 7, "total weight after shrinking");
        assertEq(payeeWeight, 0, "payee weight after shrinking");
        bytes32 digest3 = submit(poolReport(COMMUNITY, POOL, 3, digest2, sampleEntries()), firstKeys(keys, 3));
        (uint64 version, bytes32 lastDigest) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 3, "pool version");
        assertEq(lastDigest, digest3, "pool last digest");
        (root, totalWeight, payeeWeight) = revShare.poolCommitment(COMMUNITY, POOL);
        assertEq(root, EntryTree.root(sampleEntries()), "root after growing");
        assertEq(totalWeight, 100, "total weight after growing");
        assertEq(payeeWeight, 70, "payee weight after growing");
        submit(poolReport(COMMUNITY, POOL, 4, digest3, new RevShare.Entry[](0)), firstKeys(keys, 3));
        (root, totalWeight,) = revShare.poolCommitment(COMMUNITY, POOL);
        assertEq(root, bytes32(0), "root after emptying");
        assertEq(totalWeight, 0, "total weight after emptying");
    }

    function test_poolsHaveIndependentChains() public {
        submit(firstPoolReport(), firstKeys(keys, 3));
        bytes32 other = keccak256("other-pool");
        submit(poolReport(COMMUNITY, other, 1, bytes32(0), sampleEntries()), firstKeys(keys, 3));
        (uint64 version,) = revShare.poolHead(COMMUNITY, other);
        assertEq(version, 1, "second pool version");
    }

    /// @dev The one PoolReportApplied log among `logs`, decoded; checks its topics against the report.
    function appliedLog(Vm.Log[] memory logs, RevShare.PoolReport memory report)
        internal
        view
        returns (
            bytes32 digest,
            uint64 epoch,
            uint256 bitmap,
            bytes32 root,
            RevShare.PoolReport memory logged,
            bytes memory signatures
        )
    {
        assertEq(logs.length, 1, "log count");
        Vm.Log memory log = logs[0];
        assertEq(log.emitter, address(revShare), "emitter");
        assertEq(log.topics[0], keccak256(bytes(POOL_REPORT_APPLIED)), "event signature");
        assertEq(log.topics[1], report.community, "community topic");
        assertEq(log.topics[2], report.pool, "pool topic");
        assertEq(uint256(log.topics[3]), report.seq, "seq topic");
        (digest, epoch, bitmap, root, logged, signatures) =
            abi.decode(log.data, (bytes32, uint64, uint256, bytes32, RevShare.PoolReport, bytes));
    }

    function test_eventCarriesEverythingToRebuildAndReverifyTheReport() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digest);
        vm.recordLogs();
        revShare.submitPoolReport(report, sigs);
        (
            bytes32 loggedDigest,
            uint64 epoch,
            uint256 bitmap,
            bytes32 root,
            RevShare.PoolReport memory logged,
            bytes memory loggedSigs
        ) = appliedLog(vm.getRecordedLogs(), report);
        assertEq(loggedDigest, digest, "logged digest");
        assertEq(epoch, 1, "signer epoch");
        assertEq(ReportEncoder.poolReportDigest(logged, block.chainid, address(revShare)), digest, "rebuilt digest");
        // Bits of the signers that signed: keys 0, 1, 2 of the set.
        assertEq(bitmap, 0x7, "signer bitmap");
        assertEq(root, EntryTree.root(report.entries), "logged root: the independent tree's");
        assertEq(root, EntryTree.root(logged.entries), "logged root: the logged entries' tree");
        assertEq(loggedSigs, sigs, "logged signatures: exactly as submitted");
    }

    function test_aReportForwardedByAContractLogsTheSameSignatures() public {
        CallForwarder forwarder = new CallForwarder();
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digest);
        vm.recordLogs();
        forwarder.execute(address(revShare), abi.encodeCall(RevShare.submitPoolReport, (report, sigs)));
        (bytes32 loggedDigest,,,, RevShare.PoolReport memory logged, bytes memory loggedSigs) =
            appliedLog(vm.getRecordedLogs(), report);
        assertEq(loggedSigs, sigs, "logged signatures");
        // An auditor who sees only the log re-verifies it: rebuild the digest and recover every signer.
        assertEq(ReportEncoder.poolReportDigest(logged, block.chainid, address(revShare)), loggedDigest, "digest");
        (address[] memory signers,,) = revShare.signerSet();
        assertEq(loggedSigs.length, 3 * 65, "three signatures");
        for (uint256 i; i < 3; ++i) {
            address signer = recoverOf(slice(loggedSigs, 65 * i), loggedDigest);
            assertTrue(signer == signers[0] || signer == signers[1] || signer == signers[2], "a signer of the set");
        }
    }

    function test_deploymentLogsItsSetWithEmptySignatures() public {
        address[] memory set = addressesOf(keyRange(70, 2));
        vm.recordLogs();
        RevShare deployed = new RevShare(set, 2);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "log count");
        assertEq(logs[0].emitter, address(deployed), "emitter");
        assertEq(logs[0].topics[0], keccak256(bytes(SIGNER_SET_ROTATED)), "event signature");
        assertEq(uint256(logs[0].topics[1]), 1, "epoch topic");
        assertEq(uint256(logs[0].topics[2]), 0, "seq topic");
        (bytes32 digest, uint256 bitmap, RevShare.SignerReport memory logged, bytes memory sigs) =
            abi.decode(logs[0].data, (bytes32, uint256, RevShare.SignerReport, bytes));
        assertEq(digest, bytes32(0), "no digest");
        assertEq(bitmap, 0, "no signers signed");
        assertEq(logged.signers.length, 2, "logged set");
        assertEq(logged.signers[1], set[1], "logged signer");
        assertEq(logged.threshold, 2, "logged threshold");
        assertEq(sigs.length, 0, "no signatures");
    }

    function test_rotationEventCarriesItsSignatures() public {
        RevShare.SignerReport memory rotation = signerReport(1, bytes32(0), addressesOf(keyRange(50, 4)), 2);
        bytes32 digest = digestOf(rotation);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digest);
        CallForwarder forwarder = new CallForwarder();
        vm.recordLogs();
        forwarder.execute(address(revShare), abi.encodeCall(RevShare.submitSignerReport, (rotation, sigs)));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "log count");
        assertEq(logs[0].topics[0], keccak256(bytes(SIGNER_SET_ROTATED)), "event signature");
        assertEq(uint256(logs[0].topics[1]), 2, "epoch topic");
        assertEq(uint256(logs[0].topics[2]), 1, "seq topic");
        (bytes32 loggedDigest, uint256 bitmap, RevShare.SignerReport memory logged, bytes memory loggedSigs) =
            abi.decode(logs[0].data, (bytes32, uint256, RevShare.SignerReport, bytes));
        assertEq(loggedDigest, digest, "logged digest");
        assertEq(ReportEncoder.signerReportDigest(logged, block.chainid, address(revShare)), digest, "rebuilt");
        assertEq(bitmap, 0x7, "signer bitmap of the previous set");
        assertEq(loggedSigs, sigs, "logged signatures");
    }

    function test_rotationInstallsNewSetUnderNewEpoch() public {
        uint256[] memory next = keyRange(50, 4);
        RevShare.SignerReport memory rotation = signerReport(1, bytes32(0), addressesOf(next), 2);
        bytes32 digest = submit(rotation, firstKeys(keys, 3));
        (address[] memory signers, uint8 threshold, uint64 epoch) = revShare.signerSet();
        assertEq(signers.length, 4, "signer count");
        for (uint256 i; i < 4; ++i) {
            assertEq(signers[i], vm.addr(next[i]), "signer");
        }
        assertEq(threshold, 2, "threshold");
        assertEq(epoch, 2, "epoch");
        (uint64 seq, bytes32 lastDigest) = revShare.signerHead();
        assertEq(seq, 1, "signer seq");
        assertEq(lastDigest, digest, "signer last digest");
        // The new set signs from now on.
        submit(firstPoolReport(), firstKeys(next, 2));
        (uint64 version,) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 1, "pool version after rotation");
    }

    function test_rotationMayKeepSomeSigners() public {
        uint256[] memory next = new uint256[](3);
        next[0] = keys[4];
        next[1] = signerKey(60);
        next[2] = keys[0];
        submit(signerReport(1, bytes32(0), addressesOf(next), 2), firstKeys(keys, 3));
        uint256[] memory kept = new uint256[](2);
        kept[0] = keys[0];
        kept[1] = keys[4];
        submit(firstPoolReport(), kept);
        (uint64 version,) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 1, "pool version");
    }

    // ------------------------------------------------------------------ refused: domain

    function test_revertsWhenSignedForAnotherChain() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 foreign = ReportEncoder.poolReportDigest(report, block.chainid + 1, address(revShare));
        bytes memory sig = signature(keys[0], foreign);
        vm.expectRevert(abi.encodeWithSelector(RevShare.UnknownSigner.selector, recoverOf(sig, digestOf(report))));
        revShare.submitPoolReport(report, bytes.concat(sig, sig, sig));
    }

    function test_revertsAfterTheChainIdChanges() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digest);
        vm.chainId(block.chainid + 7);
        bytes32 forkDigest = digestOf(report);
        vm.expectRevert(abi.encodeWithSelector(RevShare.UnknownSigner.selector, recoverOf(sigs, forkDigest)));
        revShare.submitPoolReport(report, sigs);
    }

    function test_revertsWhenSignedForAnotherContract() public {
        RevShare twin = deploy(keys, 3);
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 twinDigest = ReportEncoder.poolReportDigest(report, block.chainid, address(twin));
        bytes memory sigs = signSorted(firstKeys(keys, 3), twinDigest);
        twin.submitPoolReport(report, sigs); // valid where it was meant to go
        vm.expectRevert(abi.encodeWithSelector(RevShare.UnknownSigner.selector, recoverOf(sigs, digestOf(report))));
        revShare.submitPoolReport(report, sigs);
    }

    // ------------------------------------------------------------------ refused: chain

    function test_revertsOnSeqGap() public {
        bytes32 digest1 = submit(firstPoolReport(), firstKeys(keys, 3));
        RevShare.PoolReport memory report = poolReport(COMMUNITY, POOL, 3, digest1, sampleEntries());
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        vm.expectRevert(abi.encodeWithSelector(RevShare.SeqGap.selector, uint64(2), uint64(3)));
        revShare.submitPoolReport(report, sigs);
    }

    function test_revertsOnReplayedSeq() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        revShare.submitPoolReport(report, sigs);
        vm.expectRevert(abi.encodeWithSelector(RevShare.ReportReplayed.selector, uint64(1), uint64(1)));
        revShare.submitPoolReport(report, sigs);
    }

    function test_revertsOnWrongPrevHash() public {
        bytes32 digest1 = submit(firstPoolReport(), firstKeys(keys, 3));
        bytes32 wrong = keccak256("not the previous report");
        RevShare.PoolReport memory report = poolReport(COMMUNITY, POOL, 2, wrong, sampleEntries());
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        vm.expectRevert(abi.encodeWithSelector(RevShare.PrevHashMismatch.selector, digest1, wrong));
        revShare.submitPoolReport(report, sigs);
    }

    function test_revertsOnNonZeroPrevHashForFirstReport() public {
        bytes32 wrong = keccak256("no report comes before seq 1");
        RevShare.PoolReport memory report = poolReport(COMMUNITY, POOL, 1, wrong, sampleEntries());
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        vm.expectRevert(abi.encodeWithSelector(RevShare.PrevHashMismatch.selector, bytes32(0), wrong));
        revShare.submitPoolReport(report, sigs);
    }

    // ------------------------------------------------------------------ refused: time

    function test_revertsWhenExpired() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        vm.warp(uint256(report.validUntil) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(RevShare.ReportExpired.selector, report.validUntil, uint256(report.validUntil) + 1)
        );
        revShare.submitPoolReport(report, sigs);
    }

    function test_revertsWhenNotYetValid() public {
        RevShare.PoolReport memory report = firstPoolReport();
        report.validFrom = uint64(block.timestamp + 1);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        vm.expectRevert(abi.encodeWithSelector(RevShare.ReportNotYetValid.selector, report.validFrom, block.timestamp));
        revShare.submitPoolReport(report, sigs);
    }

    function test_acceptsAtBothEndsOfTheWindow() public {
        RevShare.PoolReport memory report = firstPoolReport();
        report.validFrom = uint64(block.timestamp);
        report.validUntil = uint64(block.timestamp);
        submit(report, firstKeys(keys, 3));
        (uint64 version,) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 1, "pool version");
    }

    // ------------------------------------------------------------------ refused: signatures

    function test_revertsOnHighSSignature() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(keys[0], digest);
        // The malleable twin: same signer, s' = n - s, parity flipped. ecrecover alone would accept it.
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flipped = v == 27 ? 28 : 27;
        assertEq(ecrecover(digest, flipped, r, highS), vm.addr(keys[0]), "twin recovers to the signer");
        bytes memory sigs = bytes.concat(abi.encodePacked(r, highS, flipped), signSorted(keyRange(1, 2), digest));
        vm.expectRevert(abi.encodeWithSelector(RevShare.SignatureHighS.selector, uint256(0)));
        revShare.submitPoolReport(report, sigs);
    }

    function test_revertsOnSignatureRecoveringToZero() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        bytes memory bogus = abi.encodePacked(bytes32(0), bytes32(uint256(1)), uint8(27));
        assertEq(ecrecover(digest, 27, bytes32(0), bytes32(uint256(1))), address(0), "r = 0 recovers to nothing");
        bytes memory sigs = bytes.concat(bogus, signSorted(firstKeys(keys, 2), digest));
        vm.expectRevert(abi.encodeWithSelector(RevShare.SignatureInvalid.selector, uint256(0)));
        revShare.submitPoolReport(report, sigs);
    }

    function test_revertsOnSameSignerTwice() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        bytes memory once = signature(keys[0], digest);
        vm.expectRevert(abi.encodeWithSelector(RevShare.DuplicateSigner.selector, vm.addr(keys[0])));
        revShare.submitPoolReport(report, bytes.concat(once, once, once));
    }

    function test_revertsOnDescendingSigners() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        bytes memory ascending = signSorted(firstKeys(keys, 3), digest);
        bytes memory descending = bytes.concat(slice(ascending, 130), slice(ascending, 65), slice(ascending, 0));
        vm.expectRevert(abi.encodeWithSelector(RevShare.SignersNotAscending.selector, uint256(1)));
        revShare.submitPoolReport(report, descending);
    }

    function test_revertsWithTooFewSigners() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes memory sigs = signSorted(firstKeys(keys, 2), digestOf(report));
        vm.expectRevert(abi.encodeWithSelector(RevShare.TooFewSignatures.selector, uint256(2), uint256(3)));
        revShare.submitPoolReport(report, sigs);
    }

    function test_revertsOnTruncatedSignatureBlob() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        bytes memory cut = new bytes(sigs.length - 1);
        for (uint256 i; i < cut.length; ++i) {
            cut[i] = sigs[i];
        }
        vm.expectRevert(abi.encodeWithSelector(RevShare.SignaturesMalformed.selector, cut.length));
        revShare.submitPoolReport(report, cut);
    }

    function test_revertsWhenSignedByAStranger() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        uint256 stranger = signerKey(999);
        bytes memory sigs = signSorted(firstKeys(keys, 2), digest);
        sigs = bytes.concat(sigs, signature(stranger, digest));
        vm.expectRevert(abi.encodeWithSelector(RevShare.UnknownSigner.selector, vm.addr(stranger)));
        revShare.submitPoolReport(report, sigs);
    }

    function test_revertsWhenSignedByRotatedOutSet() public {
        uint256[] memory next = keyRange(50, 3);
        submit(signerReport(1, bytes32(0), addressesOf(next), 2), firstKeys(keys, 3));
        RevShare.PoolReport memory report = firstPoolReport();
        bytes32 digest = digestOf(report);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digest);
        vm.expectRevert(abi.encodeWithSelector(RevShare.SignerRotatedOut.selector, recoverOf(sigs, digest), uint64(1)));
        revShare.submitPoolReport(report, sigs);
    }

    // ------------------------------------------------------------------ refused: contents

    function test_revertsOnZeroWeightEntry() public {
        RevShare.Entry[] memory entries = sampleEntries();
        entries[1].weight = 0;
        RevShare.PoolReport memory report = poolReport(COMMUNITY, POOL, 1, bytes32(0), entries);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        vm.expectRevert(abi.encodeWithSelector(RevShare.ZeroWeight.selector, uint256(1)));
        revShare.submitPoolReport(report, sigs);
    }

    // ------------------------------------------------------------------ size bound

    function manyEntries(uint256 count) internal pure returns (RevShare.Entry[] memory entries) {
        entries = new RevShare.Entry[](count);
        for (uint256 i; i < count; ++i) {
            entries[i] = RevShare.Entry("https://ilp.example.com/x", 1, address(uint160(0x1000 + i)));
        }
    }

    /// @dev Two entries whose wallets add up to `walletBytes`.
    function walletsOfTotal(uint256 walletBytes) internal pure returns (RevShare.Entry[] memory entries) {
        entries = new RevShare.Entry[](2);
        entries[0] = RevShare.Entry(walletOfLength(0, walletBytes / 2), 1, address(0));
        entries[1] = RevShare.Entry(walletOfLength(1, walletBytes - walletBytes / 2), 1, address(0));
    }

    function expectPoolReportRevert(RevShare.Entry[] memory entries, bytes memory expected) internal {
        RevShare.PoolReport memory report = poolReport(COMMUNITY, POOL, 1, bytes32(0), entries);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        vm.expectRevert(expected);
        revShare.submitPoolReport(report, sigs);
    }

    function test_acceptsExactlyMaxEntries() public {
        assertEq(revShare.MAX_ENTRIES(), 1000, "MAX_ENTRIES");
        RevShare.Entry[] memory entries = manyEntries(1000);
        submit(poolReport(COMMUNITY, POOL, 1, bytes32(0), entries), firstKeys(keys, 3));
        (bytes32 root, uint256 totalWeight, uint256 payeeWeight) = revShare.poolCommitment(COMMUNITY, POOL);
        assertEq(root, EntryTree.root(entries), "root of 1000 entries");
        assertEq(totalWeight, 1000, "total weight");
        assertEq(payeeWeight, 1000, "payee weight");
    }

    function test_revertsOnTooManyEntries() public {
        expectPoolReportRevert(manyEntries(1001), abi.encodeWithSelector(RevShare.TooManyEntries.selector, 1001));
    }

    function test_acceptsExactlyMaxWalletBytes() public {
        assertEq(revShare.MAX_WALLET_BYTES(), 64_000, "MAX_WALLET_BYTES");
        RevShare.Entry[] memory entries = walletsOfTotal(64_000);
        assertEq(bytes(entries[0].wallet).length + bytes(entries[1].wallet).length, 64_000, "wallet bytes");
        submit(poolReport(COMMUNITY, POOL, 1, bytes32(0), entries), firstKeys(keys, 3));
        (uint64 version,) = revShare.poolHead(COMMUNITY, POOL);
        assertEq(version, 1, "pool version");
    }

    function test_revertsOnWalletBytesOverLimit() public {
        // 32,001 bytes take 32,032 as the ABI pads them, and 32,000 more make 64,032.
        expectPoolReportRevert(
            walletsOfTotal(64_001), abi.encodeWithSelector(RevShare.WalletBytesOverLimit.selector, 64_032)
        );
    }

    function test_walletBytesCountEachWalletAsItsPaddedWords() public {
        // 1,000 wallets of 33 bytes are 33,000 bytes but take 64,000 padded: the most allowed.
        RevShare.Entry[] memory entries = new RevShare.Entry[](1000);
        for (uint256 i; i < 1000; ++i) {
            entries[i] = RevShare.Entry(walletOfLength(i, 33), 1, address(0));
        }
        bytes32 accepted = submit(poolReport(COMMUNITY, POOL, 1, bytes32(0), entries), firstKeys(keys, 3));
        // One wallet one byte longer takes a word more.
        entries[999] = RevShare.Entry(walletOfLength(999, 65), 1, address(0));
        RevShare.PoolReport memory report = poolReport(COMMUNITY, POOL, 2, accepted, entries);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        vm.expectRevert(abi.encodeWithSelector(RevShare.WalletBytesOverLimit.selector, 64_032));
        revShare.submitPoolReport(report, sigs);
    }

    function test_acceptsWeightsSummingToTheLargestUint96() public {
        RevShare.Entry[] memory entries = sampleEntries();
        entries[0].weight = type(uint96).max - 50;
        submit(poolReport(COMMUNITY, POOL, 1, bytes32(0), entries), firstKeys(keys, 3));
        (, uint256 totalWeight, uint256 payeeWeight) = revShare.poolCommitment(COMMUNITY, POOL);
        assertEq(totalWeight, type(uint96).max, "total weight");
        assertEq(payeeWeight, type(uint96).max - 30, "payee weight");
    }

    function test_revertsOnWeightsSummingOverUint96() public {
        RevShare.Entry[] memory entries = sampleEntries();
        entries[0].weight = type(uint96).max - 49;
        expectPoolReportRevert(
            entries, abi.encodeWithSelector(RevShare.TotalWeightOverflow.selector, uint256(type(uint96).max) + 1)
        );
    }

    // ------------------------------------------------------------------ signer reports

    function test_signerReportsChainLikePoolReports() public {
        RevShare.SignerReport memory rotation = signerReport(2, bytes32(0), addressesOf(keyRange(50, 3)), 2);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(rotation));
        vm.expectRevert(abi.encodeWithSelector(RevShare.SeqGap.selector, uint64(1), uint64(2)));
        revShare.submitSignerReport(rotation, sigs);
    }

    function test_rotationRefusesZeroSigner() public {
        address[] memory next = addressesOf(keyRange(50, 3));
        next[1] = address(0);
        expectRotationRevert(next, 2, abi.encodeWithSelector(RevShare.ZeroSigner.selector, uint256(1)));
    }

    function test_rotationRefusesDuplicateSigner() public {
        address[] memory next = addressesOf(keyRange(50, 3));
        next[2] = next[0];
        expectRotationRevert(next, 2, abi.encodeWithSelector(RevShare.DuplicateSigner.selector, next[0]));
    }

    function test_rotationRefusesZeroThreshold() public {
        address[] memory next = addressesOf(keyRange(50, 3));
        expectRotationRevert(next, 0, abi.encodeWithSelector(RevShare.ThresholdOutOfRange.selector, 0, 3));
    }

    function test_rotationRefusesThresholdAboveCount() public {
        address[] memory next = addressesOf(keyRange(50, 3));
        expectRotationRevert(next, 4, abi.encodeWithSelector(RevShare.ThresholdOutOfRange.selector, 4, 3));
    }

    function test_rotationRefusesEmptySet() public {
        expectRotationRevert(new address[](0), 1, abi.encodeWithSelector(RevShare.SignerCountOutOfRange.selector, 0));
    }

    function test_rotationRefusesMoreThan32Signers() public {
        address[] memory next = addressesOf(keyRange(50, 33));
        expectRotationRevert(next, 17, abi.encodeWithSelector(RevShare.SignerCountOutOfRange.selector, 33));
    }

    function test_rotationAcceptsExactly32Signers() public {
        address[] memory next = addressesOf(keyRange(50, 32));
        submit(signerReport(1, bytes32(0), next, 32), firstKeys(keys, 3));
        (address[] memory signers, uint8 threshold,) = revShare.signerSet();
        assertEq(signers.length, 32, "signer count");
        assertEq(threshold, 32, "threshold");
    }

    function test_constructorRefusesInvalidSet() public {
        address[] memory twice = addressesOf(keyRange(50, 2));
        twice[1] = twice[0];
        vm.expectRevert(abi.encodeWithSelector(RevShare.DuplicateSigner.selector, twice[0]));
        new RevShare(twice, 1);
    }

    // ------------------------------------------------------------------ refused: replay across chains and kinds

    function test_poolSignaturesReplayedOnAnotherPoolAreRefused() public {
        RevShare.PoolReport memory report = firstPoolReport();
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(report));
        report.pool = keccak256("another pool");
        bytes32 other = digestOf(report);
        vm.expectRevert(abi.encodeWithSelector(RevShare.UnknownSigner.selector, recoverOf(sigs, other)));
        revShare.submitPoolReport(report, sigs);
    }

    function test_poolSignaturesReplayedAsASignerReportAreRefused() public {
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(firstPoolReport()));
        RevShare.SignerReport memory rotation = signerReport(1, bytes32(0), addressesOf(keyRange(50, 3)), 2);
        vm.expectRevert(abi.encodeWithSelector(RevShare.UnknownSigner.selector, recoverOf(sigs, digestOf(rotation))));
        revShare.submitSignerReport(rotation, sigs);
        (uint64 seq,) = revShare.signerHead();
        assertEq(seq, 0, "no rotation");
    }

    // ------------------------------------------------------------------ refused: the signer chain

    function test_rotationSignedByTheProposedNewSetIsRefused() public {
        uint256[] memory next = keyRange(50, 3);
        RevShare.SignerReport memory rotation = signerReport(1, bytes32(0), addressesOf(next), 2);
        bytes32 digest = digestOf(rotation);
        bytes memory sigs = signSorted(next, digest);
        vm.expectRevert(abi.encodeWithSelector(RevShare.UnknownSigner.selector, recoverOf(sigs, digest)));
        revShare.submitSignerReport(rotation, sigs);
    }

    function test_aRotatedOutSetCannotRotateAgain() public {
        uint256[] memory next = keyRange(50, 3);
        bytes32 first = submit(signerReport(1, bytes32(0), addressesOf(next), 2), firstKeys(keys, 3));
        RevShare.SignerReport memory back = signerReport(2, first, addressesOf(keys), 3);
        bytes32 digest = digestOf(back);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digest);
        vm.expectRevert(abi.encodeWithSelector(RevShare.SignerRotatedOut.selector, recoverOf(sigs, digest), uint64(1)));
        revShare.submitSignerReport(back, sigs);
    }

    function test_aReplayedRotationIsRefused() public {
        RevShare.SignerReport memory rotation = signerReport(1, bytes32(0), addressesOf(keyRange(50, 3)), 2);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(rotation));
        revShare.submitSignerReport(rotation, sigs);
        vm.expectRevert(abi.encodeWithSelector(RevShare.ReportReplayed.selector, uint64(1), uint64(1)));
        revShare.submitSignerReport(rotation, sigs);
    }

    function test_aRotationWithTheWrongPreviousHashIsRefused() public {
        bytes32 first = submit(signerReport(1, bytes32(0), addressesOf(keyRange(50, 3)), 2), firstKeys(keys, 3));
        bytes32 wrong = keccak256("not the previous rotation");
        RevShare.SignerReport memory rotation = signerReport(2, wrong, addressesOf(keyRange(60, 3)), 2);
        bytes memory sigs = signSorted(keyRange(50, 2), digestOf(rotation));
        vm.expectRevert(abi.encodeWithSelector(RevShare.PrevHashMismatch.selector, first, wrong));
        revShare.submitSignerReport(rotation, sigs);
    }

    function test_anExpiredRotationIsRefused() public {
        RevShare.SignerReport memory rotation = signerReport(1, bytes32(0), addressesOf(keyRange(50, 3)), 2);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(rotation));
        vm.warp(uint256(rotation.validUntil) + 1);
        vm.expectRevert(
            abi.encodeWithSelector(
                RevShare.ReportExpired.selector, rotation.validUntil, uint256(rotation.validUntil) + 1
            )
        );
        revShare.submitSignerReport(rotation, sigs);
    }

    function test_aRotationWithTooFewSignaturesIsRefused() public {
        RevShare.SignerReport memory rotation = signerReport(1, bytes32(0), addressesOf(keyRange(50, 3)), 2);
        bytes memory sigs = signSorted(firstKeys(keys, 2), digestOf(rotation));
        vm.expectRevert(abi.encodeWithSelector(RevShare.TooFewSignatures.selector, uint256(2), uint256(3)));
        revShare.submitSignerReport(rotation, sigs);
    }

    function expectRotationRevert(address[] memory next, uint8 threshold, bytes memory expected) internal {
        RevShare.SignerReport memory rotation = signerReport(1, bytes32(0), next, threshold);
        bytes memory sigs = signSorted(firstKeys(keys, 3), digestOf(rotation));
        vm.expectRevert(expected);
        revShare.submitSignerReport(rotation, sigs);
    }

    function slice(bytes memory data, uint256 from) internal pure returns (bytes memory part) {
        part = new bytes(65);
        for (uint256 i; i < 65; ++i) {
            part[i] = data[from + i];
        }
    }
}
