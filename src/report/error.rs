//! What can go wrong building, signing, verifying or chaining a report. One enum for the part, whose
//! variants follow the contract's custom errors where the contract would refuse the same thing, so a
//! report this module accepts is one the contract accepts (time window aside: that needs a clock).

use alloy_primitives::{Address, B256};

use super::chain::ChainKey;

/// Why a report, a key, a signature or a chain of reports was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The contract takes at most this many entries per report (`TooManyEntries`).
    #[error("a pool report carries at most {max} entries, found {found}")]
    TooManyEntries {
        /// The contract's limit.
        max: usize,
        /// How many were given.
        found: usize,
    },
    /// The contract takes at most this many bytes of wallets per report, each rounded up to 32
    /// (`WalletBytesOverLimit`).
    #[error(
        "a pool report carries at most {max} bytes of wallet addresses (each counted in 32-byte words), found {found}"
    )]
    WalletBytes {
        /// The contract's limit.
        max: usize,
        /// How many bytes the wallets take together.
        found: usize,
    },
    /// A validity window that ends before it starts could never be applied.
    #[error(
        "a validity window ends at or after it starts, found from {valid_from} until {valid_until}"
    )]
    EmptyWindow {
        /// First valid Unix second.
        valid_from: u64,
        /// Last valid Unix second.
        valid_until: u64,
    },
    /// A wallet in a decoded report is not a wallet address in normal form.
    #[error("entry {index}: expected a wallet address in normal form, found `{found}`")]
    EntryWallet {
        /// The entry's position.
        index: usize,
        /// The wallet text, cut short.
        found: String,
    },
    /// A weight in a decoded report is zero or larger than the service's weights (`ZeroWeight`).
    #[error("entry {index}: expected a weight from 1 to {max}, found {found}", max = u32::MAX)]
    EntryWeight {
        /// The entry's position.
        index: usize,
        /// The weight, as decimal text (it may not fit 64 bits).
        found: String,
    },
    /// A signer set the contract would refuse (`SignerCountOutOfRange`).
    #[error("a signer set has 1 to {max} signers, found {found}")]
    SignerCount {
        /// The contract's `MAX_SIGNERS`.
        max: usize,
        /// How many were given.
        found: usize,
    },
    /// A threshold the contract would refuse (`ThresholdOutOfRange`).
    #[error("a threshold is 1 to the number of signers ({count}), found {threshold}")]
    Threshold {
        /// The threshold given.
        threshold: usize,
        /// The number of signers.
        count: usize,
    },
    /// The zero address cannot sign (`ZeroSigner`).
    #[error("signer {index} is the zero address, which no key controls")]
    ZeroSigner {
        /// Its position in the set.
        index: usize,
    },
    /// A signer listed twice in a set, or signing twice (`DuplicateSigner`).
    #[error("signer {signer} appears twice; each signer counts once")]
    DuplicateSigner {
        /// The repeated address.
        signer: Address,
    },
    /// Thirty-two bytes that are not a secp256k1 private key. The bytes are never shown.
    #[error("a private key is a non-zero 32-byte number below the secp256k1 group order")]
    InvalidKey,
    /// A signature that is malformed in itself.
    #[error("signature {index}: {fault}")]
    Signature {
        /// Its position in the list or blob.
        index: usize,
        /// What is wrong with it.
        fault: SignatureFault,
    },
    /// A signature blob that is not a whole number of 65-byte signatures (`SignaturesMalformed`).
    #[error("a signature blob is a multiple of 65 bytes, found {length} bytes")]
    SignaturesMalformed {
        /// The blob's length.
        length: usize,
    },
    /// Fewer signatures than the threshold (`TooFewSignatures`).
    #[error("expected at least {threshold} signatures, found {count}")]
    TooFewSignatures {
        /// How many signatures were given.
        count: usize,
        /// How many the signer set requires.
        threshold: usize,
    },
    /// A signature whose signer is not in the set: a stranger, or a report signed for another
    /// chain, contract or content, whose digest differs (`UnknownSigner`).
    #[error("signature recovers to {signer}, which is not in the signer set")]
    UnknownSigner {
        /// The recovered address.
        signer: Address,
    },
    /// Signatures out of strictly increasing signer order (`SignersNotAscending`).
    #[error(
        "signature {index} is from a lower address than the one before; signatures go in increasing signer order"
    )]
    SignersNotAscending {
        /// The position of the first signature out of order.
        index: usize,
    },
    /// A report that belongs to another chain than the one being checked or extended.
    #[error("expected a report of chain {expected}, found one of chain {found}")]
    OtherChain {
        /// The chain being checked (boxed: two pool ids would make every error large).
        expected: Box<ChainKey>,
        /// The report's chain.
        found: Box<ChainKey>,
    },
    /// A report at or below the chain's head (`ReportReplayed`).
    #[error(
        "the chain is at seq {last_seq}; a report with seq {seq} was already applied or superseded"
    )]
    Replayed {
        /// The head's seq.
        last_seq: u64,
        /// The report's seq.
        seq: u64,
    },
    /// A report that skips seqs (`SeqGap`).
    #[error("expected seq {expected}, found {found}: reports are missing in between")]
    SeqGap {
        /// The head's seq + 1.
        expected: u64,
        /// The report's seq.
        found: u64,
    },
    /// A report that does not name the previous report's digest (`PrevHashMismatch`).
    #[error("expected prevHash {expected} (the previous report's digest), found {found}")]
    PrevHashMismatch {
        /// The head's digest.
        expected: B256,
        /// The report's prevHash.
        found: B256,
    },
    /// A report of a checked chain broke it; `source` says how.
    #[error("report {index} of the chain: {source}")]
    InChain {
        /// The report's position in the list checked.
        index: usize,
        /// What broke.
        source: Box<ReportError>,
    },
    /// The chain reached seq 2^64 - 1 and cannot be extended.
    #[error("the chain is at the last possible seq {last_seq}")]
    ChainExhausted {
        /// The head's seq.
        last_seq: u64,
    },
}

/// What is wrong with one signature, on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureFault {
    /// Not 65 bytes.
    #[error("expected 65 bytes (r, s, v), found {0}")]
    Length(usize),
    /// v is not 27 or 28: the contract's `ecrecover` accepts nothing else.
    #[error("expected v = 27 or 28, found {0}")]
    RecoveryByte(u8),
    /// s is above half the group order: the contract refuses malleable signatures
    /// (`SignatureHighS`).
    #[error("expected s at most n/2 (low s), found a higher s")]
    HighS,
    /// r and s recover no public key (`SignatureInvalid`).
    #[error("r, s and v recover no public key")]
    Unrecoverable,
}
