// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../../src/RevShare.sol";
import {ReportEncoder} from "./ReportEncoder.sol";
import {TestBase} from "./TestBase.sol";

/// @notice Signer keys, sample reports and signing for RevShare tests. Digests come from the tests' own
/// ReportEncoder, never from the contract.
abstract contract RevShareFixture is TestBase {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant START = 1_700_000_000;
    bytes32 internal constant COMMUNITY = keccak256("example-community");
    bytes32 internal constant POOL = keccak256("default");

    RevShare internal revShare;

    /// @dev The private key of test signer number i (deterministic, never zero, below the curve order).
    function signerKey(uint256 i) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode("revshare test signer", i))) % (SECP256K1_N - 1) + 1;
    }

    function keyRange(uint256 from, uint256 count) internal pure returns (uint256[] memory keys) {
        keys = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            keys[i] = signerKey(from + i);
        }
    }

    function firstKeys(uint256[] memory keys, uint256 count) internal pure returns (uint256[] memory some) {
        some = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            some[i] = keys[i];
        }
    }

    function addressesOf(uint256[] memory keys) internal pure returns (address[] memory signers) {
        signers = new address[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            signers[i] = vm.addr(keys[i]);
        }
    }

    function deploy(uint256[] memory keys, uint8 threshold) internal returns (RevShare) {
        return new RevShare(addressesOf(keys), threshold);
    }

    function sampleEntries() internal pure returns (RevShare.Entry[] memory entries) {
        entries = new RevShare.Entry[](3);
        entries[0] = RevShare.Entry("https://ilp.example.com/alice", 50, address(0xA11CE));
        entries[1] = RevShare.Entry("https://wallet.example.org/bob", 30, address(0));
        entries[2] = RevShare.Entry("https://ilp.example.net/carol/main", 20, address(0xCA401));
    }

    /// @dev A wallet URL of exactly `length` bytes, distinct per `i`: to price and bound reports by their wallet bytes.
    function walletOfLength(uint256 i, uint256 length) internal pure returns (string memory) {
        bytes memory prefix = bytes(string.concat("https://w", vm.toString(i), ".example/"));
        require(prefix.length <= length, "wallet shorter than its prefix");
        bytes memory wallet = new bytes(length);
        for (uint256 j; j < length; ++j) {
            wallet[j] = j < prefix.length ? prefix[j] : bytes1("a");
        }
        return string(wallet);
    }

    function poolReport(bytes32 community, bytes32 pool, uint64 seq, bytes32 prevHash, RevShare.Entry[] memory entries)
        internal
        view
        returns (RevShare.PoolReport memory report)
    {
        report.community = community;
        report.pool = pool;
        report.seq = seq;
        report.prevHash = prevHash;
        report.entries = entries;
        report.decisionHash = keccak256(abi.encode("decision", community, pool, seq));
        report.policyVersion = 1;
        report.observedAt = uint64(block.timestamp - 60);
        report.validFrom = uint64(block.timestamp - 60);
        report.validUntil = uint64(block.timestamp + 1 days);
    }

    function firstPoolReport() internal view returns (RevShare.PoolReport memory) {
        return poolReport(COMMUNITY, POOL, 1, bytes32(0), sampleEntries());
    }

    function signerReport(uint64 seq, bytes32 prevHash, address[] memory signers, uint8 threshold)
        internal
        view
        returns (RevShare.SignerReport memory report)
    {
        report.seq = seq;
        report.prevHash = prevHash;
        report.signers = signers;
        report.threshold = threshold;
        report.observedAt = uint64(block.timestamp - 60);
        report.validFrom = uint64(block.timestamp - 60);
        report.validUntil = uint64(block.timestamp + 1 days);
    }

    function digestOf(RevShare.PoolReport memory report) internal view returns (bytes32) {
        return ReportEncoder.poolReportDigest(report, block.chainid, address(revShare));
    }

    function digestOf(RevShare.SignerReport memory report) internal view returns (bytes32) {
        return ReportEncoder.signerReportDigest(report, block.chainid, address(revShare));
    }

    /// @dev One 65-byte (r, s, v) signature.
    function signature(uint256 key, bytes32 digest) internal pure returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        return abi.encodePacked(r, s, v);
    }

    /// @dev Signatures of all `keys`, concatenated in increasing order of signer address, as the contract expects.
    function signSorted(uint256[] memory keys, bytes32 digest) internal pure returns (bytes memory signatures) {
        uint256[] memory sorted = new uint256[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            uint256 key = keys[i];
            address a = vm.addr(key);
            uint256 j = i;
            while (j > 0 && vm.addr(sorted[j - 1]) > a) {
                sorted[j] = sorted[j - 1];
                --j;
            }
            sorted[j] = key;
        }
        for (uint256 i; i < sorted.length; ++i) {
            signatures = bytes.concat(signatures, signature(sorted[i], digest));
        }
    }

    /// @dev Signs and submits a pool report with `keys`; returns its digest.
    function submit(RevShare.PoolReport memory report, uint256[] memory keys) internal returns (bytes32 digest) {
        digest = digestOf(report);
        revShare.submitPoolReport(report, signSorted(keys, digest));
    }

    /// @dev Signs and submits a signer report with `keys`; returns its digest.
    function submit(RevShare.SignerReport memory report, uint256[] memory keys) internal returns (bytes32 digest) {
        digest = digestOf(report);
        revShare.submitSignerReport(report, signSorted(keys, digest));
    }

    /// @dev The address a signature recovers to over `digest`, as the EVM precompile computes it.
    function recoverOf(bytes memory sig, bytes32 digest) internal pure returns (address) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            r := mload(add(sig, 32))
            s := mload(add(sig, 64))
            v := byte(0, mload(add(sig, 96)))
        }
        return ecrecover(digest, v, r, s);
    }
}
