// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignerSetCode} from "./SignerSetCode.sol";

/// @title RevShare
/// @notice Verifies and applies the signed, hash-chained oracle reports of revshare-oracle. A pool report replaces
/// the weighted entries of one (community, pool); a signer report rotates the oracle's signer set. Every accepted
/// report is emitted in full, so an auditor can rebuild and re-verify the whole history from this contract's logs.
/// @dev Reports are EIP-712 typed data in the domain {name: "RevShareOracle", version: "1", chainId, verifyingContract}:
///
///     Entry(string wallet,uint96 weight,address payee)
///     PoolReport(bytes32 community,bytes32 pool,uint64 seq,bytes32 prevHash,Entry[] entries,bytes32 decisionHash,uint64 policyVersion,uint64 observedAt,uint64 validFrom,uint64 validUntil)
///     SignerReport(uint64 seq,bytes32 prevHash,address[] signers,uint8 threshold,uint64 observedAt,uint64 validFrom,uint64 validUntil)
///
/// The PoolReport type string is followed by the Entry type string when hashed, as EIP-712 requires for referenced
/// types. `Entry[]` encodes as keccak256 of the concatenated hashStruct of each entry, `string` as keccak256 of its
/// UTF-8 bytes, `address[]` as keccak256 of the concatenated 32-byte left-padded addresses.
///
/// Signatures are passed as one `bytes` blob: 65 bytes (r, s, v) per signature, ordered by strictly increasing
/// signer address. There is no owner: only reports signed by the current signer set change anything.
contract RevShare is EIP712 {
    /// @notice One weighted share of a pool.
    /// @param wallet The normalised https wallet-address URL (payment pointer) of the entry.
    /// @param weight The entry's weight; never zero. It is chosen by `pick` with probability weight / total.
    /// @param payee Optional EVM account that `fund` credits with the entry's share; address(0) means none.
    /// A payee must be an account that can be paid: not this contract, nor a precompile (0x01 to 0x1ff).
    struct Entry {
        string wallet;
        uint96 weight;
        address payee;
    }

    /// @notice A signed replacement of one pool's entries.
    /// @param community keccak256 of the community's UTF-8 slug.
    /// @param pool keccak256 of the pool's UTF-8 slug.
    /// @param seq Position in the (community, pool) chain; the first report has seq 1.
    /// @param prevHash EIP-712 digest of the previous report of the chain; zero for seq 1.
    /// @param entries The pool's new entries, in selection order.
    /// @param decisionHash Hash of the governance decision that caused this report.
    /// @param policyVersion Version of the policy that turned the decision into entries.
    /// @param observedAt Unix time at which the oracle observed the decision.
    /// @param validFrom First Unix time (inclusive) at which the report may be applied.
    /// @param validUntil Last Unix time (inclusive) at which the report may be applied.
    struct PoolReport {
        bytes32 community;
        bytes32 pool;
        uint64 seq;
        bytes32 prevHash;
        Entry[] entries;
        bytes32 decisionHash;
        uint64 policyVersion;
        uint64 observedAt;
        uint64 validFrom;
        uint64 validUntil;
    }

    /// @notice A signed rotation of the oracle's signer set.
    /// @param seq Position in the signer chain; the first rotation after deployment has seq 1.
    /// @param prevHash EIP-712 digest of the previous signer report; zero for seq 1.
    /// @param signers The new signer set, 1 to 32 distinct non-zero addresses; their order fixes their indices.
    /// @param threshold How many of the new signers must sign from now on; 1 to signers.length.
    /// @param observedAt Unix time at which the oracle decided the rotation.
    /// @param validFrom First Unix time (inclusive) at which the report may be applied.
    /// @param validUntil Last Unix time (inclusive) at which the report may be applied.
    struct SignerReport {
        uint64 seq;
        bytes32 prevHash;
        address[] signers;
        uint8 threshold;
        uint64 observedAt;
        uint64 validFrom;
        uint64 validUntil;
    }

    /// @dev Everything the contract keeps about one (community, pool).
    struct Pool {
        uint64 version;
        uint128 totalWeight;
        bytes32 lastDigest;
        uint256 dust;
        Entry[] entries;
    }

    bytes32 private constant ENTRY_TYPEHASH = keccak256("Entry(string wallet,uint96 weight,address payee)");
    bytes32 private constant POOL_REPORT_TYPEHASH = keccak256(
        "PoolReport(bytes32 community,bytes32 pool,uint64 seq,bytes32 prevHash,Entry[] entries,bytes32 decisionHash,uint64 policyVersion,uint64 observedAt,uint64 validFrom,uint64 validUntil)Entry(string wallet,uint96 weight,address payee)"
    );
    bytes32 private constant SIGNER_REPORT_TYPEHASH = keccak256(
        "SignerReport(uint64 seq,bytes32 prevHash,address[] signers,uint8 threshold,uint64 observedAt,uint64 validFrom,uint64 validUntil)"
    );

    /// @notice Largest signer set; signer indices must fit the 32-bit bitmap emitted with each report.
    uint256 public constant MAX_SIGNERS = 32;
    /// @notice Largest number of entries in one pool; bounds the gas of `pick` and `fund`.
    uint256 public constant MAX_ENTRIES = 128;
    /// @notice Highest address reserved for precompiles (Ethereum's and RIP-7212's): no payee, since
    /// nothing there can call `withdraw`.
    uint160 public constant MAX_PRECOMPILE = 0x1ff;
    /// @dev Length of one (r, s, v) signature in the signature blob.
    uint256 private constant SIGNATURE_LENGTH = 65;

    /// @dev The current signer set. It fits one slot, so that a submission reads it with one SLOAD.
    /// @param code The data contract that holds the members (see SignerSetCode).
    /// @param count The number of members.
    /// @param epoch The set's epoch: 1 at deployment, +1 per rotation.
    /// @param threshold How many members must sign a report.
    struct SignerSet {
        address code;
        uint8 count;
        uint64 epoch;
        uint8 threshold;
    }

    SignerSet private _signerSet;
    uint64 private _signerSeq;
    bytes32 private _signerLastDigest;
    /// @dev signer => the last epoch whose set included it. A signer belongs to the current set iff this equals the
    /// current epoch, so a rotation needs no clean-up of the old set. Submissions read it only to explain a refusal.
    mapping(address signer => uint256 epoch) private _signerEpochs;

    mapping(bytes32 community => mapping(bytes32 pool => Pool)) private _pools;

    /// @notice Wei credited to each payee by `fund` and not yet withdrawn.
    mapping(address payee => uint256 amount) public balanceOf;

    /// @notice A pool report was verified and applied.
    /// @param community The report's community id (indexed).
    /// @param pool The report's pool id (indexed).
    /// @param seq The report's seq, which is now the pool's version (indexed).
    /// @param digest The report's EIP-712 digest, which the next report of the pool must carry as prevHash.
    /// @param signerEpoch The epoch of the signer set that signed it (see `SignerSetRotated`).
    /// @param signerBitmap Bit i is set iff signer i of that epoch's set signed the report.
    /// @param report The report exactly as signed, so its digest can be recomputed from this log alone.
    event PoolReportApplied(
        bytes32 indexed community,
        bytes32 indexed pool,
        uint64 indexed seq,
        bytes32 digest,
        uint64 signerEpoch,
        uint256 signerBitmap,
        PoolReport report
    );

    /// @notice The signer set changed: at deployment (seq 0, zero digest, empty report fields) or by a signer report.
    /// @param epoch The new set's epoch (indexed); the set of the previous epoch is out from now on.
    /// @param seq The signer report's seq, 0 for the deployment's set (indexed).
    /// @param digest The signer report's EIP-712 digest; zero for the deployment's set.
    /// @param signerBitmap Bit i is set iff signer i of the previous epoch's set signed the report.
    /// @param report The signer report exactly as signed (for the deployment: signers and threshold only).
    event SignerSetRotated(
        uint64 indexed epoch, uint64 indexed seq, bytes32 digest, uint256 signerBitmap, SignerReport report
    );

    /// @notice ETH sent to a pool was split among its payees.
    /// @param community The pool's community id (indexed).
    /// @param pool The pool id (indexed).
    /// @param funder Who sent the ETH (indexed).
    /// @param amount The wei sent with this call.
    /// @param credited The wei credited to payees by this call (this call's amount plus earlier dust, less new dust).
    /// @param dust The rounding remainder kept by the pool for its next funding.
    event PoolFunded(
        bytes32 indexed community,
        bytes32 indexed pool,
        address indexed funder,
        uint256 amount,
        uint256 credited,
        uint256 dust
    );

    /// @notice A payee was credited by `fund`.
    /// @param payee The credited account (indexed).
    /// @param community The funded pool's community id (indexed).
    /// @param pool The funded pool id (indexed).
    /// @param amount The wei credited.
    event PayeeCredited(address indexed payee, bytes32 indexed community, bytes32 indexed pool, uint256 amount);

    /// @notice A payee withdrew its balance.
    /// @param payee The account whose balance was paid (indexed).
    /// @param to The account the wei went to: the payee itself, or the one it named (indexed).
    /// @param amount The wei paid.
    event Withdrawn(address indexed payee, address indexed to, uint256 amount);

    /// @notice The report's seq is not above the chain's last seq: it was already applied (replay) or superseded.
    error ReportReplayed(uint64 lastSeq, uint64 seq);
    /// @notice The report's seq skips ahead of the next expected seq.
    error SeqGap(uint64 expectedSeq, uint64 seq);
    /// @notice The report's prevHash is not the digest of the chain's last report.
    error PrevHashMismatch(bytes32 expected, bytes32 prevHash);
    /// @notice The report is not valid yet: block.timestamp < validFrom.
    error ReportNotYetValid(uint64 validFrom, uint256 timestamp);
    /// @notice The report has expired: block.timestamp > validUntil.
    error ReportExpired(uint64 validUntil, uint256 timestamp);
    /// @notice The signature blob is not a whole number of 65-byte signatures.
    error SignaturesMalformed(uint256 length);
    /// @notice Fewer signatures than the current threshold.
    error TooFewSignatures(uint256 count, uint256 threshold);
    /// @notice Signature `index` has an s value in the upper half of the curve order (malleable).
    error SignatureHighS(uint256 index);
    /// @notice Signature `index` recovers to no address (bad r, s or v).
    error SignatureInvalid(uint256 index);
    /// @notice A signature recovers to an address that was never in any signer set (or signed another domain).
    error UnknownSigner(address signer);
    /// @notice A signature recovers to a member of an earlier signer set that is no longer current.
    error SignerRotatedOut(address signer, uint64 epoch);
    /// @notice The same signer appears twice (in a signature blob or in a rotation).
    error DuplicateSigner(address signer);
    /// @notice Signatures are not ordered by strictly increasing signer address.
    error SignersNotAscending(uint256 index);
    /// @notice A rotation names 0 or more than MAX_SIGNERS signers.
    error SignerCountOutOfRange(uint256 count);
    /// @notice A rotation's threshold is 0 or above its signer count.
    error ThresholdOutOfRange(uint256 threshold, uint256 count);
    /// @notice A rotation names address(0).
    error ZeroSigner(uint256 index);
    /// @notice A pool report has more than MAX_ENTRIES entries.
    error TooManyEntries(uint256 count);
    /// @notice A pool report has an entry of weight 0.
    error ZeroWeight(uint256 index);
    /// @notice `pick` on a pool without entries.
    error EmptyPool(bytes32 community, bytes32 pool);
    /// @notice `fund` without ETH.
    error NothingToFund();
    /// @notice `fund` on a pool none of whose entries has a payee.
    error NoPayees(bytes32 community, bytes32 pool);
    /// @notice `withdraw` by an account with a zero balance.
    error NothingToWithdraw();
    /// @notice A pool report names a payee that could never withdraw: this contract or a precompile.
    error PayeeUnusable(uint256 index, address payee);
    /// @notice `fund` was pinned to another entry set than the pool's: a report landed since the caller read it.
    error StalePin(bytes32 lastDigest, bytes32 pinned);
    /// @notice `withdrawTo` names an account that cannot be paid: address(0), this contract or a precompile.
    error UnusableRecipient(address to);
    /// @notice The ETH transfer of a withdrawal failed; the balance is left untouched.
    error WithdrawalFailed(address payee, uint256 amount);

    /// @notice Deploys the contract with its first signer set (epoch 1).
    /// @param signers The initial signers, 1 to 32 distinct non-zero addresses.
    /// @param threshold How many of them must sign each report; 1 to signers.length.
    constructor(address[] memory signers, uint8 threshold) EIP712("RevShareOracle", "1") {
        _installSigners(signers, threshold);
        emit SignerSetRotated(
            1,
            0,
            bytes32(0),
            0,
            SignerReport({
                seq: 0,
                prevHash: bytes32(0),
                signers: signers,
                threshold: threshold,
                observedAt: 0,
                validFrom: 0,
                validUntil: 0
            })
        );
    }

    // ------------------------------------------------------------------------------------------ reports

    /// @notice Verifies a pool report and, if it holds, replaces the pool's entries.
    /// @dev Reverts unless: seq is the pool's version + 1, prevHash is the pool's last digest, validFrom <=
    /// block.timestamp <= validUntil, every entry has a non-zero weight, there are at most MAX_ENTRIES entries, and
    /// the signatures are at least `threshold` valid signatures of distinct members of the current signer set,
    /// ordered by increasing signer address. A report signed for another chain or contract has another digest, so
    /// its signatures recover to addresses outside the set and it fails with `UnknownSigner`.
    /// @param report The report, exactly as signed.
    /// @param signatures Concatenated 65-byte (r, s, v) signatures over the report's EIP-712 digest.
    /// @return digest The report's EIP-712 digest, now the pool's last digest.
    function submitPoolReport(PoolReport calldata report, bytes calldata signatures) external returns (bytes32 digest) {
        Pool storage pool = _pools[report.community][report.pool];
        _checkChain(pool.version, pool.lastDigest, report.seq, report.prevHash);
        _checkWindow(report.validFrom, report.validUntil);
        digest = hashPoolReport(report);
        (uint64 epoch, uint256 bitmap) = _verifySignatures(digest, signatures);

        pool.version = report.seq;
        pool.lastDigest = digest;
        _storeEntries(pool, report.entries);
        emit PoolReportApplied(report.community, report.pool, report.seq, digest, epoch, bitmap, report);
    }

    /// @notice Verifies a signer report and, if it holds, replaces the signer set with a new epoch. The old set
    /// cannot sign anything from this block on.
    /// @dev Reverts unless: seq is the signer chain's seq + 1, prevHash is its last digest, the report is within its
    /// validity window, it is signed like a pool report by the current set, and the new set has 1 to MAX_SIGNERS
    /// distinct non-zero signers and a threshold of 1 to their count.
    /// @param report The report, exactly as signed.
    /// @param signatures Concatenated 65-byte (r, s, v) signatures of the current set over the report's digest.
    /// @return digest The report's EIP-712 digest, now the signer chain's last digest.
    function submitSignerReport(SignerReport calldata report, bytes calldata signatures)
        external
        returns (bytes32 digest)
    {
        _checkChain(_signerSeq, _signerLastDigest, report.seq, report.prevHash);
        _checkWindow(report.validFrom, report.validUntil);
        digest = hashSignerReport(report);
        (, uint256 bitmap) = _verifySignatures(digest, signatures);

        _signerSeq = report.seq;
        _signerLastDigest = digest;
        uint64 epoch = _installSigners(report.signers, report.threshold);
        emit SignerSetRotated(epoch, report.seq, digest, bitmap, report);
    }

    // ------------------------------------------------------------------------------------------ hashing

    /// @notice The EIP-712 digest of a pool report in this contract's domain (what the signers sign).
    /// @param report The report.
    /// @return The digest keccak256("\x19\x01" || domainSeparator || hashStruct(report)).
    function hashPoolReport(PoolReport calldata report) public view returns (bytes32) {
        Entry[] calldata entries = report.entries;
        bytes32[] memory entryHashes = new bytes32[](entries.length);
        for (uint256 i; i < entries.length; ++i) {
            Entry calldata entry = entries[i];
            entryHashes[i] =
                keccak256(abi.encode(ENTRY_TYPEHASH, keccak256(bytes(entry.wallet)), entry.weight, entry.payee));
        }
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    POOL_REPORT_TYPEHASH,
                    report.community,
                    report.pool,
                    report.seq,
                    report.prevHash,
                    keccak256(abi.encodePacked(entryHashes)),
                    report.decisionHash,
                    report.policyVersion,
                    report.observedAt,
                    report.validFrom,
                    report.validUntil
                )
            )
        );
    }

    /// @notice The EIP-712 digest of a signer report in this contract's domain (what the signers sign).
    /// @param report The report.
    /// @return The digest keccak256("\x19\x01" || domainSeparator || hashStruct(report)).
    function hashSignerReport(SignerReport calldata report) public view returns (bytes32) {
        return _hashTypedDataV4(
            keccak256(
                abi.encode(
                    SIGNER_REPORT_TYPEHASH,
                    report.seq,
                    report.prevHash,
                    keccak256(abi.encodePacked(report.signers)),
                    report.threshold,
                    report.observedAt,
                    report.validFrom,
                    report.validUntil
                )
            )
        );
    }

    /// @notice The EIP-712 domain separator of this contract on the current chain.
    /// @return The separator of {name: "RevShareOracle", version: "1", chainId, verifyingContract: this}.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ------------------------------------------------------------------------------------------ views

    /// @notice The pool's version (seq of its last report, 0 if none) and the digest of its last report.
    /// @param community The community id.
    /// @param pool The pool id.
    /// @return version The pool's version.
    /// @return lastDigest The digest the pool's next report must carry as prevHash.
    function poolHead(bytes32 community, bytes32 pool) external view returns (uint64 version, bytes32 lastDigest) {
        Pool storage p = _pools[community][pool];
        return (p.version, p.lastDigest);
    }

    /// @notice The pool's current entries, in selection order.
    /// @param community The community id.
    /// @param pool The pool id.
    /// @return The entries.
    function poolEntries(bytes32 community, bytes32 pool) external view returns (Entry[] memory) {
        return _pools[community][pool].entries;
    }

    /// @notice The pool's total weight and the funding dust it keeps for its next funding.
    /// @param community The community id.
    /// @param pool The pool id.
    /// @return totalWeight Sum of the weights of the pool's entries.
    /// @return dust Wei left over by rounding in earlier `fund` calls.
    function poolTotals(bytes32 community, bytes32 pool) external view returns (uint256 totalWeight, uint256 dust) {
        Pool storage p = _pools[community][pool];
        return (p.totalWeight, p.dust);
    }

    /// @notice The current signer set, its threshold and its epoch.
    /// @return signers The signers; signer i is bit i of the bitmaps in this contract's events.
    /// @return threshold How many of them must sign a report.
    /// @return epoch The set's epoch: 1 at deployment, +1 per accepted signer report.
    function signerSet() external view returns (address[] memory signers, uint8 threshold, uint64 epoch) {
        SignerSet memory current = _signerSet;
        return
            (SignerSetCode.members(SignerSetCode.load(current.code, current.count)), current.threshold, current.epoch);
    }

    /// @notice The signer chain's seq and last digest, which the next signer report must follow.
    /// @return seq Seq of the last accepted signer report, 0 if none.
    /// @return lastDigest Its digest, 0 if none.
    function signerHead() external view returns (uint64 seq, bytes32 lastDigest) {
        return (_signerSeq, _signerLastDigest);
    }

    /// @notice Picks one entry of a pool with probability weight / totalWeight, exactly: the entry whose cumulative
    /// weight range [sum of earlier weights, sum including its own) contains `seed % totalWeight`.
    /// @dev The seed must come from the caller because this contract has no safe source of randomness. blockhash
    /// and block.prevrandao are known to, and can be biased by, the block's proposer (who may withhold a block or
    /// choose which transactions to include), and are visible to anyone simulating the call before it lands. On-chain
    /// values can therefore promise only that nobody *else* controls the pick: they cannot promise that the
    /// proposer, or a caller who can choose when to call, could not steer it. A contract that pays out by the pick
    /// must bring its own unpredictable seed, e.g. from a commit-reveal between the parties or a VRF whose proof it
    /// checks. Given a uniform seed, the bias from the modulo is at most totalWeight / 2^256.
    /// @param community The community id.
    /// @param pool The pool id.
    /// @param seed A caller-supplied, uniformly random number.
    /// @return index The picked entry's index in `poolEntries`.
    /// @return entry The picked entry.
    function pick(bytes32 community, bytes32 pool, uint256 seed)
        external
        view
        returns (uint256 index, Entry memory entry)
    {
        Pool storage p = _pools[community][pool];
        uint256 total = p.totalWeight;
        if (total == 0) revert EmptyPool(community, pool);
        uint256 target = seed % total;
        Entry[] storage entries = p.entries;
        uint256 cumulative;
        for (index = 0;; ++index) {
            cumulative += entries[index].weight;
            if (target < cumulative) return (index, entries[index]);
        }
    }

    // ------------------------------------------------------------------------------------------ payout

    /// @notice Splits the ETH sent among the pool's entries that have a payee, in proportion to their weights, and
    /// credits each share to the payee's `balanceOf` (withdraw with `withdraw`). Entries without a payee take no
    /// part. Each share is rounded down; the remainder (less than one wei per payee) stays with the pool as dust
    /// and is added to the pool's next funding, so no wei is ever lost or created.
    /// The call is pinned to the entry set the caller saw, by the digest of the pool's last report
    /// (`poolHead`): ETH meant for one set of payees is never split by another that landed first.
    /// @param community The community id.
    /// @param pool The pool id.
    /// @param pin The pool's last report digest as the caller read it; another one reverts `StalePin`.
    function fund(bytes32 community, bytes32 pool, bytes32 pin) external payable {
        if (msg.value == 0) revert NothingToFund();
        Pool storage p = _pools[community][pool];
        if (p.lastDigest != pin) revert StalePin(p.lastDigest, pin);
        Entry[] storage entries = p.entries;
        uint256 count = entries.length;
        uint256 payeeWeight;
        for (uint256 i; i < count; ++i) {
            if (entries[i].payee != address(0)) payeeWeight += entries[i].weight;
        }
        if (payeeWeight == 0) revert NoPayees(community, pool);

        uint256 amount = msg.value + p.dust;
        uint256 credited;
        for (uint256 i; i < count; ++i) {
            address payee = entries[i].payee;
            if (payee == address(0)) continue;
            uint256 share = amount * entries[i].weight / payeeWeight;
            balanceOf[payee] += share;
            credited += share;
            emit PayeeCredited(payee, community, pool, share);
        }
        uint256 dust = amount - credited;
        p.dust = dust;
        emit PoolFunded(community, pool, msg.sender, msg.value, credited, dust);
    }

    /// @notice Pays the caller its whole credited balance. The balance is zeroed before the transfer, so a
    /// re-entering caller finds nothing left; if the transfer fails the whole call reverts and the balance stays.
    /// @return amount The wei paid.
    function withdraw() external returns (uint256 amount) {
        return _withdraw(msg.sender);
    }

    /// @notice Pays the caller's whole credited balance to `to`, for a payee that cannot receive ETH
    /// itself (a contract without a payable fallback) or wants it elsewhere. As `withdraw` otherwise.
    /// @param to The account to pay; not address(0), this contract or a precompile.
    /// @return amount The wei paid.
    function withdrawTo(address to) external returns (uint256 amount) {
        if (!_payable(to)) revert UnusableRecipient(to);
        return _withdraw(to);
    }

    // ------------------------------------------------------------------------------------------ internals

    /// @dev Pays the caller's balance to `to`, zeroing it first.
    function _withdraw(address to) private returns (uint256 amount) {
        amount = balanceOf[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        balanceOf[msg.sender] = 0;
        emit Withdrawn(msg.sender, to, amount);
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert WithdrawalFailed(msg.sender, amount);
    }

    /// @dev Whether `account` can be paid and can withdraw: not address(0), this contract or a precompile.
    function _payable(address account) private view returns (bool) {
        return uint160(account) > MAX_PRECOMPILE && account != address(this);
    }

    function _checkChain(uint64 lastSeq, bytes32 lastDigest, uint64 seq, bytes32 prevHash) private pure {
        if (seq <= lastSeq) revert ReportReplayed(lastSeq, seq);
        if (seq != lastSeq + 1) revert SeqGap(lastSeq + 1, seq);
        if (prevHash != lastDigest) revert PrevHashMismatch(lastDigest, prevHash);
    }

    function _checkWindow(uint64 validFrom, uint64 validUntil) private view {
        // The window is coarse (minutes to days); a proposer's few seconds of timestamp leeway do not matter.
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < validFrom) revert ReportNotYetValid(validFrom, block.timestamp);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp > validUntil) revert ReportExpired(validUntil, block.timestamp);
    }

    /// @dev Checks the signature blob against the current set; returns the set's epoch and the bitmap of the
    /// indices that signed. Reads the set with one SLOAD and one EXTCODECOPY, then per signature one ecrecover and
    /// one step of a merge pass over the sorted members; no storage writes.
    function _verifySignatures(bytes32 digest, bytes calldata signatures)
        private
        view
        returns (uint64 epoch, uint256 bitmap)
    {
        SignerSet memory current = _signerSet;
        epoch = current.epoch;
        uint256 count = _signatureCount(signatures.length, current.threshold);
        bytes memory members = SignerSetCode.load(current.code, current.count);
        uint256 cursor;
        address previous;
        for (uint256 i; i < count; ++i) {
            address signer = _recoverSigner(digest, signatures, i);
            bool found;
            uint256 index;
            (found, index, cursor) = SignerSetCode.find(members, cursor, signer);
            if (!found) _rejectSigner(signer, previous, i, epoch);
            previous = signer;
            // forge-lint: disable-next-line(incorrect-shift)
            bitmap |= 1 << index;
        }
    }

    /// @dev The number of signatures in a blob of `length` bytes; reverts unless it is whole and reaches the threshold.
    function _signatureCount(uint256 length, uint256 threshold) private pure returns (uint256 count) {
        if (length % SIGNATURE_LENGTH != 0) revert SignaturesMalformed(length);
        count = length / SIGNATURE_LENGTH;
        if (count < threshold) revert TooFewSignatures(count, threshold);
    }

    /// @dev The address that signature `i` of the blob recovers to; reverts on a high-s or unrecoverable signature.
    function _recoverSigner(bytes32 digest, bytes calldata signatures, uint256 i) private pure returns (address) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            let at := add(signatures.offset, mul(i, SIGNATURE_LENGTH))
            r := calldataload(at)
            s := calldataload(add(at, 32))
            v := byte(0, calldataload(add(at, 64)))
        }
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(digest, v, r, s);
        if (err != ECDSA.RecoverError.NoError) {
            if (err == ECDSA.RecoverError.InvalidSignatureS) revert SignatureHighS(i);
            revert SignatureInvalid(i);
        }
        return signer;
    }

    /// @dev Reverts with the reason signature `index` is refused, given that the merge pass did not find its signer
    /// above `previous` in the current set: it is in no set, in an earlier set only, or (being a member) it repeats
    /// or precedes the previous signer.
    function _rejectSigner(address signer, address previous, uint256 index, uint64 epoch) private view {
        uint256 signerEpoch = _signerEpochs[signer];
        if (signerEpoch != epoch) {
            if (signerEpoch == 0) revert UnknownSigner(signer);
            // casting to 'uint64' is safe because epochs are written from a uint64
            // forge-lint: disable-next-line(unsafe-typecast)
            revert SignerRotatedOut(signer, uint64(signerEpoch));
        }
        if (signer == previous) revert DuplicateSigner(signer);
        revert SignersNotAscending(index);
    }

    /// @dev Validates and installs a new signer set under the next epoch; returns that epoch. The set's data
    /// contract is created from fixed code that only returns the entries, so creating it calls nothing untrusted.
    function _installSigners(address[] memory signers, uint8 threshold) private returns (uint64 epoch) {
        uint256 count = signers.length;
        if (count == 0 || count > MAX_SIGNERS) revert SignerCountOutOfRange(count);
        if (threshold == 0 || threshold > count) revert ThresholdOutOfRange(threshold, count);
        epoch = _signerSet.epoch + 1;
        for (uint256 i; i < count; ++i) {
            address signer = signers[i];
            if (signer == address(0)) revert ZeroSigner(i);
            if (_signerEpochs[signer] == epoch) revert DuplicateSigner(signer);
            _signerEpochs[signer] = epoch;
        }
        address code = SignerSetCode.deploy(signers);
        // casting to 'uint8' is safe because count <= MAX_SIGNERS
        // forge-lint: disable-next-line(unsafe-typecast)
        _signerSet = SignerSet({code: code, count: uint8(count), epoch: epoch, threshold: threshold});
    }

    /// @dev Replaces the pool's entries in place (overwriting, appending, then trimming) and their total weight.
    function _storeEntries(Pool storage pool, Entry[] calldata entries) private {
        uint256 count = entries.length;
        if (count > MAX_ENTRIES) revert TooManyEntries(count);
        Entry[] storage stored = pool.entries;
        uint256 storedCount = stored.length;
        uint256 total;
        for (uint256 i; i < count; ++i) {
            Entry calldata entry = entries[i];
            uint96 weight = entry.weight;
            if (weight == 0) revert ZeroWeight(i);
            total += weight;
            address payee = entry.payee;
            if (payee != address(0) && !_payable(payee)) revert PayeeUnusable(i, payee);
            Entry storage slot = i < storedCount ? stored[i] : stored.push();
            slot.wallet = entry.wallet;
            slot.weight = weight;
            slot.payee = payee;
        }
        for (uint256 i = storedCount; i > count; --i) {
            stored.pop();
        }
        // casting to 'uint128' is safe because total <= MAX_ENTRIES * type(uint96).max < 2^103
        // forge-lint: disable-next-line(unsafe-typecast)
        pool.totalWeight = uint128(total);
    }
}
