// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {RevShare} from "../../src/RevShare.sol";

/// @notice The tests' own EIP-712 encoding of RevShare reports, written from the EIP-712 specification and the
/// type strings in contracts/README.md rather than from the contract's code, so that signing a digest computed
/// here checks the contract's hashing too. Every member is laid out as an explicit 32-byte word.
library ReportEncoder {
    string internal constant DOMAIN_TYPE =
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
    string internal constant ENTRY_TYPE = "Entry(string wallet,uint96 weight,address payee)";
    string internal constant POOL_REPORT_TYPE =
        "PoolReport(bytes32 community,bytes32 pool,uint64 seq,bytes32 prevHash,Entry[] entries,bytes32 decisionHash,uint64 policyVersion,uint64 observedAt,uint64 validFrom,uint64 validUntil)";
    string internal constant SIGNER_REPORT_TYPE =
        "SignerReport(uint64 seq,bytes32 prevHash,address[] signers,uint8 threshold,uint64 observedAt,uint64 validFrom,uint64 validUntil)";

    function word(address a) private pure returns (bytes32) {
        return bytes32(uint256(uint160(a)));
    }

    function word(uint256 x) private pure returns (bytes32) {
        return bytes32(x);
    }

    function domainSeparator(uint256 chainId, address verifyingContract) internal pure returns (bytes32) {
        return keccak256(
            bytes.concat(
                keccak256(bytes(DOMAIN_TYPE)),
                keccak256(bytes("RevShareOracle")),
                keccak256(bytes("1")),
                word(chainId),
                word(verifyingContract)
            )
        );
    }

    function entryHash(RevShare.Entry memory entry) internal pure returns (bytes32) {
        return entryHash(keccak256(bytes(entry.wallet)), entry.weight, entry.payee);
    }

    /// @dev The hashStruct of an entry known by its wallet's hash, as an entry tree's leaf holds it.
    function entryHash(bytes32 walletHash, uint96 weight, address payee) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(bytes(ENTRY_TYPE)), walletHash, word(uint256(weight)), word(payee)));
    }

    /// @dev Writes each hash into one preallocated buffer: growing it entry by entry would cost gas quadratic in
    /// the entry count, which the 1000-entry reports make prohibitive.
    function entriesHash(RevShare.Entry[] memory entries) internal pure returns (bytes32) {
        bytes memory concatenated = new bytes(32 * entries.length);
        for (uint256 i; i < entries.length; ++i) {
            bytes32 h = entryHash(entries[i]);
            assembly ("memory-safe") {
                mstore(add(add(concatenated, 32), mul(i, 32)), h)
            }
        }
        return keccak256(concatenated);
    }

    function poolReportHash(RevShare.PoolReport memory r) internal pure returns (bytes32) {
        bytes memory first = bytes.concat(
            keccak256(bytes.concat(bytes(POOL_REPORT_TYPE), bytes(ENTRY_TYPE))),
            r.community,
            r.pool,
            word(uint256(r.seq)),
            r.prevHash,
            entriesHash(r.entries)
        );
        bytes memory second = bytes.concat(
            r.decisionHash,
            word(uint256(r.policyVersion)),
            word(uint256(r.observedAt)),
            word(uint256(r.validFrom)),
            word(uint256(r.validUntil))
        );
        return keccak256(bytes.concat(first, second));
    }

    function signerReportHash(RevShare.SignerReport memory r) internal pure returns (bytes32) {
        bytes memory signerWords;
        for (uint256 i; i < r.signers.length; ++i) {
            signerWords = bytes.concat(signerWords, word(r.signers[i]));
        }
        return keccak256(
            bytes.concat(
                keccak256(bytes(SIGNER_REPORT_TYPE)),
                word(uint256(r.seq)),
                r.prevHash,
                keccak256(signerWords),
                word(uint256(r.threshold)),
                word(uint256(r.observedAt)),
                word(uint256(r.validFrom)),
                word(uint256(r.validUntil))
            )
        );
    }

    function digest(bytes32 separator, bytes32 structHash) internal pure returns (bytes32) {
        return keccak256(bytes.concat(hex"1901", separator, structHash));
    }

    function poolReportDigest(RevShare.PoolReport memory r, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        return digest(domainSeparator(chainId, verifyingContract), poolReportHash(r));
    }

    function signerReportDigest(RevShare.SignerReport memory r, uint256 chainId, address verifyingContract)
        internal
        pure
        returns (bytes32)
    {
        return digest(domainSeparator(chainId, verifyingContract), signerReportHash(r));
    }
}
