// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignerSetCode} from "./SignerSetCode.sol";

/// @title RevShare
/// @notice Verifies and applies the signed, hash-chained oracle reports of revshare-oracle. A pool report replaces
/// the weighted entries of one (community, pool); a signer report rotates the oracle's signer set. Every accepted
/// report is emitted in full with its signatures, so an auditor can rebuild and re-verify the whole history from
/// this contract's logs alone, whoever submitted it (an account, a Safe, a wrapper contract).
///
/// Storage keeps one commitment per pool instead of its entries: a Merkle root over the entries with their
/// cumulative weights (see `leafOf`). `pick` takes the chosen entry with its proof, and payees claim their share
/// of what was funded with a proof, as Merkle distributors do. The entries themselves are in the event.
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
///
/// The entry tree: leaf i is keccak256(keccak256(abi.encode(entryHash_i, before_i))), where entryHash_i is the
/// entry's EIP-712 hashStruct and before_i the sum of the weights of the entries ahead of it. Each level pairs
/// neighbours left to right with OpenZeppelin's commutative keccak256 (the smaller hash first); an odd last node
/// rises unchanged. The root of one leaf is the leaf; of no entries, zero.
contract RevShare is EIP712 {
    /// @notice One weighted share of a pool.
    /// @param wallet The normalised https wallet-address URL (payment pointer) of the entry.
    /// @param weight The entry's weight; never zero. It is chosen by `pick` with probability weight / total.
    /// @param payee Optional EVM account that `claim` credits with the entry's share of what was funded; address(0)
    /// means none.
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

    /// @notice An entry as the tree commits to it, to prove it to `pick` or `claim`.
    /// @param walletHash keccak256 of the entry's wallet (its UTF-8 bytes).
    /// @param weight The entry's weight.
    /// @param payee The entry's payee; address(0) for none.
    /// @param before The sum of the weights of the entries ahead of it in its report.
    struct EntryLeaf {
        bytes32 walletHash;
        uint96 weight;
        address payee;
        uint256 before;
    }

    /// @dev Everything the contract keeps about one (community, pool): three slots, rewritten by each report.
    struct Pool {
        uint64 version;
        uint96 totalWeight;
        uint96 payeeWeight;
        bytes32 lastDigest;
        bytes32 root;
    }

    /// @dev What was funded to one entry set (keyed by its report's digest): its root and payee weight, copied
    /// from the pool by the first `fund` pinned to it, and the wei funded to it so far.
    struct Round {
        bytes32 root;
        uint96 payeeWeight;
        uint160 funded;
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
    /// @notice Largest number of entries in one pool report. With MAX_WALLET_BYTES it bounds a report's whole
    /// transaction below 8,000,000 gas, so every report the oracle signs can land.
    uint256 public constant MAX_ENTRIES = 1000;
    /// @notice Largest sum of the wallets' lengths in one pool report, each wallet's UTF-8 length rounded up
    /// to a multiple of 32 bytes (the words it takes in calldata and in the event, which is what costs gas).
    uint256 public constant MAX_WALLET_BYTES = 64_000;
    /// @notice Highest address reserved for precompiles (Ethereum's and RIP-7212's): no payee, since
    /// nothing there can call `withdraw`.
    uint160 public constant MAX_PRECOMPILE = 0x1ff;
    /// @dev Half the secp256k1 group order: a signature with a higher s is the malleable twin of a low-s one.
    uint256 private constant HALF_CURVE_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
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
    mapping(bytes32 digest => Round) private _rounds;

    /// @notice Wei of a round already credited to an entry by `claim`, by the round's digest and the entry's leaf.
    mapping(bytes32 digest => mapping(bytes32 leaf => uint256 amount)) public claimed;

    /// @notice Wei credited to each payee by `claim` and not yet withdrawn.
    mapping(address payee => uint256 amount) public balanceOf;

    /// @notice A pool report was verified and applied.
    /// @param community The report's community id (indexed).
    /// @param pool The report's pool id (indexed).
    /// @param seq The report's seq, which is now the pool's version (indexed).
    /// @param digest The report's EIP-712 digest, which the next report of the pool must carry as prevHash.
    /// @param signerEpoch The epoch of the signer set that signed it (see `SignerSetRotated`).
    /// @param signerBitmap Bit i is set iff signer i of that epoch's set signed the report.
    /// @param root The root of the report's entry tree, now the pool's commitment.
    /// @param report The report exactly as signed, so its digest can be recomputed from this log alone.
    /// @param signatures The signatures as submitted, so they can be verified from this log alone.
    event PoolReportApplied(
        bytes32 indexed community,
        bytes32 indexed pool,
        uint64 indexed seq,
        bytes32 digest,
        uint64 signerEpoch,
        uint256 signerBitmap,
        bytes32 root,
        PoolReport report,
        bytes signatures
    );

    /// @notice The signer set changed: at deployment (seq 0, zero digest, empty report fields) or by a signer report.
    /// @param epoch The new set's epoch (indexed); the set of the previous epoch is out from now on.
    /// @param seq The signer report's seq, 0 for the deployment's set (indexed).
    /// @param digest The signer report's EIP-712 digest; zero for the deployment's set.
    /// @param signerBitmap Bit i is set iff signer i of the previous epoch's set signed the report.
    /// @param report The signer report exactly as signed (for the deployment: signers and threshold only).
    /// @param signatures The signatures as submitted; empty for the deployment.
    event SignerSetRotated(
        uint64 indexed epoch,
        uint64 indexed seq,
        bytes32 digest,
        uint256 signerBitmap,
        SignerReport report,
        bytes signatures
    );

    /// @notice ETH was funded to a pool's entry set, to be claimed by its payees.
    /// @param community The pool's community id (indexed).
    /// @param pool The pool id (indexed).
    /// @param funder Who sent the ETH (indexed).
    /// @param digest The digest of the report whose entries share it (the round).
    /// @param amount The wei sent with this call.
    event PoolFunded(
        bytes32 indexed community, bytes32 indexed pool, address indexed funder, bytes32 digest, uint256 amount
    );

    /// @notice A payee was credited its share of a round by `claim`.
    /// @param payee The credited account (indexed).
    /// @param digest The round: the digest of the report whose entry it proved (indexed).
    /// @param amount The wei credited.
    event PayeeCredited(address indexed payee, bytes32 indexed digest, uint256 amount);

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
    /// @notice A pool report's wallets, each rounded up to 32 bytes, are longer than MAX_WALLET_BYTES together.
    error WalletBytesOverLimit(uint256 walletBytes);
    /// @notice A pool report's weights add up to more than a uint96.
    error TotalWeightOverflow(uint256 totalWeight);
    /// @notice A pool report has an entry of weight 0.
    error ZeroWeight(uint256 index);
    /// @notice `pick` on a pool without entries.
    error EmptyPool(bytes32 community, bytes32 pool);
    /// @notice `fund` without ETH.
    error NothingToFund();
    /// @notice `fund` on a pool none of whose entries has a payee.
    error NoPayees(bytes32 community, bytes32 pool);
    /// @notice `claim` on a round nobody funded.
    error NothingFunded(bytes32 digest);
    /// @notice The proof does not lead from the entry's leaf to the root it must be in.
    error InvalidProof(bytes32 leaf);
    /// @notice `claim` for an entry without a payee.
    error NoPayee(bytes32 leaf);
    /// @notice `claim` when the entry's whole share of the round has been credited.
    error NothingToClaim(bytes32 leaf);
    /// @notice `pick` given an entry whose weight range does not hold the seed's target.
    error NotPicked(uint256 target, uint256 before, uint256 weight);
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
            }),
            ""
        );
    }

    // ------------------------------------------------------------------------------------------ reports

    /// @notice Verifies a pool report and, if it holds, replaces the pool's commitment to its entries.
    /// @dev Reverts unless: seq is the pool's version + 1, prevHash is the pool's last digest, validFrom <=
    /// block.timestamp <= validUntil, every entry has a non-zero weight and a usable payee (or none), there are at
    /// most MAX_ENTRIES entries with at most MAX_WALLET_BYTES of wallets, and the signatures are at least
    /// `threshold` valid signatures of distinct members of the current signer set, ordered by increasing signer
    /// address. A report signed for another chain or contract has another digest, so
    /// its signatures recover to addresses outside the set and it fails with `UnknownSigner`.
    /// @param report The report, exactly as signed.
    /// @param signatures Concatenated 65-byte (r, s, v) signatures over the report's EIP-712 digest.
    /// @return digest The report's EIP-712 digest, now the pool's last digest.
    function submitPoolReport(PoolReport calldata report, bytes calldata signatures) external returns (bytes32 digest) {
        Pool storage pool = _pools[report.community][report.pool];
        _checkChain(pool.version, pool.lastDigest, report.seq, report.prevHash);
        _checkWindow(report.validFrom, report.validUntil);
        bytes32 root;
        {
            (bytes32[] memory entryHashes, bytes32[] memory leaves, uint256 totalWeight, uint256 payeeWeight) =
                _checkEntries(report.entries);
            digest = _hashPoolReport(report, entryHashes);
            root = _rootOf(leaves);
            // casting to 'uint96' is safe because _checkEntries bounds both sums by type(uint96).max
            // forge-lint: disable-next-line(unsafe-typecast)
            pool.totalWeight = uint96(totalWeight);
            // forge-lint: disable-next-line(unsafe-typecast)
            pool.payeeWeight = uint96(payeeWeight);
        }
        (uint64 epoch, uint256 bitmap) = _verifySignatures(digest, signatures);
        pool.version = report.seq;
        pool.lastDigest = digest;
        pool.root = root;
        emit PoolReportApplied(
            report.community, report.pool, report.seq, digest, epoch, bitmap, root, report, signatures
        );
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
        emit SignerSetRotated(epoch, report.seq, digest, bitmap, report, signatures);
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
            entryHashes[i] = _entryHash(keccak256(bytes(entry.wallet)), entry.weight, entry.payee);
        }
        return _hashPoolReport(report, entryHashes);
    }

    /// @notice The leaf of an entry in its pool's entry tree (see the contract's notes).
    /// @param leaf The entry as the tree commits to it.
    /// @return The leaf hash, which `claimed` is keyed by.
    function leafOf(EntryLeaf calldata leaf) public pure returns (bytes32) {
        return _leaf(_entryHash(leaf.walletHash, leaf.weight, leaf.payee), leaf.before);
    }

    /// @dev The digest of `report` given the EIP-712 hashStruct of each of its entries.
    function _hashPoolReport(PoolReport calldata report, bytes32[] memory entryHashes) private view returns (bytes32) {
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

    /// @notice The pool's commitment to its current entries (their tree's root) and its weights. The entries
    /// themselves are in the `PoolReportApplied` log of the report whose digest `poolHead` returns.
    /// @param community The community id.
    /// @param pool The pool id.
    /// @return root The root of the entry tree; zero for a pool without entries.
    /// @return totalWeight Sum of the weights of the pool's entries.
    /// @return payeeWeight Sum of the weights of its entries that have a payee.
    function poolCommitment(bytes32 community, bytes32 pool)
        external
        view
        returns (bytes32 root, uint256 totalWeight, uint256 payeeWeight)
    {
        Pool storage p = _pools[community][pool];
        return (p.root, p.totalWeight, p.payeeWeight);
    }

    /// @notice What was funded to the entry set of the report with `digest`.
    /// @param digest The report's digest.
    /// @return root Its entry tree's root; zero if nobody funded it.
    /// @return payeeWeight The weight its funds are split by.
    /// @return funded The wei funded to it so far.
    function round(bytes32 digest) external view returns (bytes32 root, uint256 payeeWeight, uint256 funded) {
        Round storage r = _rounds[digest];
        return (r.root, r.payeeWeight, r.funded);
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

    /// @notice The target of a pick: `seed % totalWeight`. The entry picked is the one whose weight range
    /// [before, before + weight) holds it; find it in the pool's last `PoolReportApplied` log and pass it to `pick`.
    /// @param community The community id.
    /// @param pool The pool id.
    /// @param seed A caller-supplied, uniformly random number (see `pick`).
    /// @return target The point in [0, totalWeight) that picks an entry.
    function pickTarget(bytes32 community, bytes32 pool, uint256 seed) public view returns (uint256 target) {
        uint256 total = _pools[community][pool].totalWeight;
        if (total == 0) revert EmptyPool(community, pool);
        return seed % total;
    }

    /// @notice Checks a pick: that `leaf` is an entry of the pool's current set and is the one picked by `seed`,
    /// with probability weight / totalWeight exactly: the entry whose range [before, before + weight) holds
    /// `seed % totalWeight`.
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
    /// @param leaf The picked entry, as the tree commits to it.
    /// @param proof The leaf's Merkle proof, bottom-up.
    /// @return payee The picked entry's payee (address(0) for none).
    /// @return walletHash keccak256 of the picked entry's wallet.
    function pick(bytes32 community, bytes32 pool, uint256 seed, EntryLeaf calldata leaf, bytes32[] calldata proof)
        external
        view
        returns (address payee, bytes32 walletHash)
    {
        uint256 target = pickTarget(community, pool, seed);
        _prove(_pools[community][pool].root, leaf, proof);
        if (target < leaf.before || target - leaf.before >= leaf.weight) {
            revert NotPicked(target, leaf.before, leaf.weight);
        }
        return (leaf.payee, leaf.walletHash);
    }

    // ------------------------------------------------------------------------------------------ payout

    /// @notice Funds the pool's current entry set with the ETH sent. Its payees claim their shares with `claim`,
    /// each in proportion to its weight among the entries that have a payee; entries without one take no part.
    /// The call is pinned to the entry set the caller saw, by the digest of the pool's last report
    /// (`poolHead`): ETH meant for one set of payees is never split by another that landed first.
    /// @param community The community id.
    /// @param pool The pool id.
    /// @param pin The pool's last report digest as the caller read it; another one reverts `StalePin`.
    function fund(bytes32 community, bytes32 pool, bytes32 pin) external payable {
        if (msg.value == 0) revert NothingToFund();
        Pool storage p = _pools[community][pool];
        if (p.lastDigest != pin) revert StalePin(p.lastDigest, pin);
        if (p.payeeWeight == 0) revert NoPayees(community, pool);
        Round storage r = _rounds[pin];
        if (r.root == bytes32(0)) {
            r.root = p.root;
            r.payeeWeight = p.payeeWeight;
        }
        // casting to 'uint160' is safe because no round can hold more wei than exist (< 2^160)
        // forge-lint: disable-next-line(unsafe-typecast)
        r.funded = uint160(r.funded + msg.value);
        emit PoolFunded(community, pool, msg.sender, pin, msg.value);
    }

    /// @notice Credits an entry's payee with its share of a round not credited yet: funded * weight / payeeWeight,
    /// rounded down, less what earlier claims credited. Anyone may claim for a payee; the wei goes to the payee's
    /// `balanceOf` (withdraw with `withdraw`). The rounding leaves less than one wei per payee of each round in
    /// the contract, never more than was funded is credited.
    /// @param digest The round: the digest of the report whose entry set was funded.
    /// @param leaf The entry, as that report's tree commits to it.
    /// @param proof The leaf's Merkle proof in that tree, bottom-up.
    /// @return amount The wei credited.
    function claim(bytes32 digest, EntryLeaf calldata leaf, bytes32[] calldata proof)
        external
        returns (uint256 amount)
    {
        Round storage r = _rounds[digest];
        bytes32 root = r.root;
        if (root == bytes32(0)) revert NothingFunded(digest);
        bytes32 leafHash = _prove(root, leaf, proof);
        address payee = leaf.payee;
        if (payee == address(0)) revert NoPayee(leafHash);
        uint256 earned = uint256(r.funded) * leaf.weight / r.payeeWeight;
        amount = earned - claimed[digest][leafHash];
        if (amount == 0) revert NothingToClaim(leafHash);
        claimed[digest][leafHash] = earned;
        balanceOf[payee] += amount;
        emit PayeeCredited(payee, digest, amount);
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
    function _recoverSigner(bytes32 digest, bytes calldata signatures, uint256 i) private view returns (address) {
        bytes32 r;
        bytes32 s;
        uint8 v;
        assembly ("memory-safe") {
            let at := add(signatures.offset, mul(i, SIGNATURE_LENGTH))
            r := calldataload(at)
            s := calldataload(add(at, 32))
            v := byte(0, calldataload(add(at, 64)))
        }
        if (uint256(s) > HALF_CURVE_ORDER) revert SignatureHighS(i);
        address signer;
        // The ecrecover precompile, called past the free memory pointer without allocating: it returns
        // nothing for a v other than 27 or 28 or an r, s that recover no key.
        assembly ("memory-safe") {
            let at := mload(0x40)
            mstore(at, digest)
            mstore(add(at, 0x20), v)
            mstore(add(at, 0x40), r)
            mstore(add(at, 0x60), s)
            mstore(0x00, 0)
            pop(staticcall(gas(), 0x01, at, 0x80, 0x00, 0x20))
            signer := mload(0x00)
        }
        if (signer == address(0)) revert SignatureInvalid(i);
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

    /// @dev The EIP-712 hashStruct of an entry, from its wallet's hash.
    function _entryHash(bytes32 walletHash, uint96 weight, address payee) private pure returns (bytes32 hash) {
        // keccak256(abi.encode(ENTRY_TYPEHASH, walletHash, weight, payee)), hashed past the free memory pointer
        // without allocating, so that hashing a thousand entries does not grow memory a thousand times.
        bytes32 typeHash = ENTRY_TYPEHASH;
        assembly ("memory-safe") {
            let at := mload(0x40)
            mstore(at, typeHash)
            mstore(add(at, 0x20), walletHash)
            mstore(add(at, 0x40), and(weight, 0xffffffffffffffffffffffff))
            mstore(add(at, 0x60), and(payee, 0xffffffffffffffffffffffffffffffffffffffff))
            hash := keccak256(at, 0x80)
        }
    }

    /// @dev keccak256 of calldata bytes, copied past the free memory pointer without allocating.
    function _calldataHash(bytes calldata data) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let at := mload(0x40)
            calldatacopy(at, data.offset, data.length)
            hash := keccak256(at, data.length)
        }
    }

    /// @dev An entry's leaf: hashed twice, so that no inner node (a hash of 64 bytes) is also a leaf.
    function _leaf(bytes32 entryHash, uint256 before) private pure returns (bytes32 leaf) {
        // keccak256(bytes.concat(keccak256(abi.encode(entryHash, before)))), in the scratch space.
        assembly ("memory-safe") {
            mstore(0x00, entryHash)
            mstore(0x20, before)
            mstore(0x00, keccak256(0x00, 0x40))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @dev Checks `leaf` against `root`; returns its hash.
    function _prove(bytes32 root, EntryLeaf calldata leaf, bytes32[] calldata proof)
        private
        pure
        returns (bytes32 leafHash)
    {
        leafHash = _leaf(_entryHash(leaf.walletHash, leaf.weight, leaf.payee), leaf.before);
        if (!MerkleProof.verifyCalldata(proof, root, leafHash)) revert InvalidProof(leafHash);
    }

    /// @dev Checks a report's entries (count, wallet bytes, weights, payees) and returns each entry's hashStruct
    /// and leaf with the pool's total and payee weights. Every weight is below 2^96 and there are at most MAX_ENTRIES,
    /// so the sums cannot overflow; they must still fit the uint96 the pool keeps them in.
    function _checkEntries(Entry[] calldata entries)
        private
        view
        returns (bytes32[] memory entryHashes, bytes32[] memory leaves, uint256 totalWeight, uint256 payeeWeight)
    {
        uint256 count = entries.length;
        if (count > MAX_ENTRIES) revert TooManyEntries(count);
        entryHashes = new bytes32[](count);
        leaves = new bytes32[](count);
        uint256 walletBytes;
        for (uint256 i; i < count; ++i) {
            Entry calldata entry = entries[i];
            uint96 weight = entry.weight;
            if (weight == 0) revert ZeroWeight(i);
            address payee = entry.payee;
            if (payee != address(0)) {
                if (!_payable(payee)) revert PayeeUnusable(i, payee);
                payeeWeight += weight;
            }
            bytes calldata wallet = bytes(entry.wallet);
            walletBytes += (wallet.length + 31) & ~uint256(31);
            bytes32 entryHash = _entryHash(_calldataHash(wallet), weight, payee);
            entryHashes[i] = entryHash;
            leaves[i] = _leaf(entryHash, totalWeight);
            totalWeight += weight;
        }
        if (walletBytes > MAX_WALLET_BYTES) revert WalletBytesOverLimit(walletBytes);
        if (totalWeight > type(uint96).max) revert TotalWeightOverflow(totalWeight);
    }

    /// @dev The root of the entry tree over `nodes`, its leaves (see the contract's notes). Builds the tree in
    /// place, level by level, so the leaves are overwritten.
    function _rootOf(bytes32[] memory nodes) private pure returns (bytes32) {
        uint256 count = nodes.length;
        if (count == 0) return bytes32(0);
        while (count > 1) {
            uint256 next;
            for (uint256 i; i < count; i += 2) {
                nodes[next++] = i + 1 < count ? Hashes.commutativeKeccak256(nodes[i], nodes[i + 1]) : nodes[i];
            }
            count = next;
        }
        return nodes[0];
    }
}
