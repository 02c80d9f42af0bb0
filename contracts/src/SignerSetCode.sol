// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Arrays} from "@openzeppelin/contracts/utils/Arrays.sol";
import {LowLevelCall} from "@openzeppelin/contracts/utils/LowLevelCall.sol";

/// @title SignerSetCode
/// @notice Keeps an oracle signer set as the code of a small data contract (the SSTORE2 pattern), so that a report
/// submission reads the whole set with one EXTCODECOPY (2,600 gas for the cold account, then 3 gas a word) instead
/// of one cold SLOAD (2,100 gas) per signature. Writing the set costs a contract creation, paid once per rotation.
/// @dev The data contract's code is one STOP byte, so calling it does nothing, followed by one 21-byte entry per
/// member in strictly increasing order of address: the member's 20-byte address, then its 1-byte index in the set
/// as the rotation listed it (its bit in the contract's signer bitmaps). Sorted entries let a verifier walk
/// signatures ordered by increasing signer address against the set in one merge pass.
///
/// The creation code copies everything after its own 10 bytes into memory and returns it as the runtime code:
///
///     Offset | Opcode        | Mnemonic    | Stack
///     -------|---------------|-------------|------------------
///     0x00   | 61 <length>   | PUSH2 len   | len
///     0x03   | 80            | DUP1        | len len
///     0x04   | 60 0a         | PUSH1 0x0a  | 0x0a len len
///     0x06   | 5f            | PUSH0       | 0 0x0a len len
///     0x07   | 39            | CODECOPY    | len               (memory[0, len) = code[0x0a, 0x0a + len))
///     0x08   | 5f            | PUSH0       | 0 len
///     0x09   | f3            | RETURN      |                   (runtime code = memory[0, len))
///
/// This library does not check the set: the caller rejects empty sets, zero addresses and duplicates first.
library SignerSetCode {
    /// @dev Bytes of one entry: a 20-byte address and a 1-byte index.
    uint256 private constant ENTRY_LENGTH = 21;
    /// @dev The runtime code starts with one STOP byte before the first entry.
    uint256 private constant DATA_OFFSET = 1;
    /// @dev The creation code's first byte (PUSH2), which the runtime code's 2-byte length follows.
    bytes1 private constant CREATION_PUSH2 = 0x61;
    /// @dev The rest of the creation code, from DUP1 to RETURN (see the table above).
    bytes7 private constant CREATION_COPY_AND_RETURN = 0x80600a5f395ff3;

    /// @notice Deploys a data contract holding `signers`, sorted by address, each with its index in `signers`.
    /// @dev Reverts with the creation's revert data (none: only running out of gas makes it fail) if it fails.
    /// @param signers 1 to 255 distinct non-zero addresses.
    /// @return code The data contract's address.
    function deploy(address[] memory signers) internal returns (address code) {
        uint256 count = signers.length;
        // Sort keys are (address << 8 | index): sorting them orders the members by address, and each key's low
        // 21 bytes are already the member's entry.
        uint256[] memory keys = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            keys[i] = (uint256(uint160(signers[i])) << 8) | i;
        }
        Arrays.sort(keys);

        bytes memory runtime = hex"00";
        for (uint256 i; i < count; ++i) {
            // casting to 'uint168' is safe because a key is a 160-bit address shifted by 8 bits, or'ed with i < 256
            // forge-lint: disable-next-line(unsafe-typecast)
            runtime = bytes.concat(runtime, bytes21(uint168(keys[i])));
        }
        // casting to 'uint16' is safe because runtime.length = 1 + 21 * count <= 5,356 for count < 256
        // forge-lint: disable-next-line(unsafe-typecast)
        bytes memory creation =
            bytes.concat(CREATION_PUSH2, bytes2(uint16(runtime.length)), CREATION_COPY_AND_RETURN, runtime);
        assembly ("memory-safe") {
            code := create(0, add(creation, 0x20), mload(creation))
        }
        if (code == address(0)) LowLevelCall.bubbleRevert();
    }

    /// @notice Reads the `count` entries of a data contract written by `deploy` into memory with one EXTCODECOPY.
    /// @param code The data contract's address.
    /// @param count Its number of entries.
    /// @return entries The entries, ENTRY_LENGTH bytes each, in increasing order of address.
    function load(address code, uint256 count) internal view returns (bytes memory entries) {
        entries = new bytes(count * ENTRY_LENGTH);
        assembly ("memory-safe") {
            extcodecopy(code, add(entries, 0x20), DATA_OFFSET, mload(entries))
        }
    }

    /// @notice One step of a merge pass: finds `signer` among the entries at byte offset `cursor` or later.
    /// @dev Walks forward over entries whose address is below `signer` and stops at the first that is not. A caller
    /// that looks up signers in strictly increasing order passes each call's `next` as the following call's
    /// `cursor`, so a pass that finds every signer reads each entry at most once. A signer that is not above the
    /// previous one found is therefore not found.
    /// @param entries Entries from `load`.
    /// @param cursor Byte offset of the first entry to look at; 0 to search from the start.
    /// @param signer The address to find.
    /// @return found Whether `signer` is the address of an entry at `cursor` or later.
    /// @return index If found, the signer's index in the set as the rotation listed it.
    /// @return next If found, the byte offset of the entry after the signer's.
    function find(bytes memory entries, uint256 cursor, address signer)
        internal
        pure
        returns (bool found, uint256 index, uint256 next)
    {
        assembly ("memory-safe") {
            let data := add(entries, 0x20)
            let end := mload(entries)
            for { next := cursor } lt(next, end) { next := add(next, ENTRY_LENGTH) } {
                // The word's first 21 bytes are the entry; bytes past the last entry are never used.
                let entry := mload(add(data, next))
                let member := shr(96, entry)
                if iszero(lt(member, signer)) {
                    found := eq(member, signer)
                    index := byte(20, entry)
                    next := add(next, ENTRY_LENGTH)
                    break
                }
            }
        }
    }

    /// @notice The members of a set, in the order the rotation listed them.
    /// @param entries Entries from `load`.
    /// @return signers The addresses, each at its index.
    function members(bytes memory entries) internal pure returns (address[] memory signers) {
        uint256 count = entries.length / ENTRY_LENGTH;
        signers = new address[](count);
        for (uint256 offset; offset < entries.length; offset += ENTRY_LENGTH) {
            address signer;
            uint256 index;
            assembly ("memory-safe") {
                let entry := mload(add(add(entries, 0x20), offset))
                signer := shr(96, entry)
                index := byte(20, entry)
            }
            signers[index] = signer;
        }
    }
}
