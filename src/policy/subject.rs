//! What a proposal is about: the kinds of trigger a policy names, and the subject each trigger
//! carries (the member and wallets of a wallet change, a proposed policy, an admin's request).
//!
//! A policy's templates and actions may only use what the triggers of their rule carry; this
//! module says what that is, so the parser can refuse a policy that uses anything else.

use serde::{Deserialize, Serialize};

use crate::domain::{Entry, MemberId, PolicyName, PoolName, SplitRules, WalletAddress};

use super::template::Placeholder;

/// The kinds of event a rule can be triggered by, as policies name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// A member states a wallet for the first time.
    WalletAdded,
    /// A member replaces their wallet with another.
    WalletChanged,
    /// A member clears their wallet.
    WalletRemoved,
    /// Someone proposes a new version of a policy.
    PolicyChange,
    /// An admin asks for a change of a pool or of the split.
    AdminRequest,
}

impl TriggerKind {
    /// The name used in policy files.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::WalletAdded => "wallet_added",
            TriggerKind::WalletChanged => "wallet_changed",
            TriggerKind::WalletRemoved => "wallet_removed",
            TriggerKind::PolicyChange => "policy_change",
            TriggerKind::AdminRequest => "admin_request",
        }
    }

    /// The placeholders that subjects of every one of `triggers` fill.
    pub fn common_placeholders(triggers: &[TriggerKind]) -> Vec<Placeholder> {
        let Some((first, rest)) = triggers.split_first() else {
            return Vec::new();
        };
        first
            .placeholders()
            .iter()
            .copied()
            .filter(|p| rest.iter().all(|t| t.placeholders().contains(p)))
            .collect()
    }

    /// The placeholders a subject of this kind fills.
    pub fn placeholders(self) -> &'static [Placeholder] {
        use Placeholder::*;
        match self {
            TriggerKind::WalletAdded => &[Member, Wallet],
            TriggerKind::WalletChanged => &[Member, Wallet, OldWallet],
            TriggerKind::WalletRemoved => &[Member, OldWallet],
            TriggerKind::PolicyChange => &[Policy, SourceHash],
            TriggerKind::AdminRequest => &[Request, Note],
        }
    }
}

/// A change an admin asks the community to decide on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum RequestedChange {
    /// Put an entry into a pool (replacing the entry of the same wallet, if any).
    AddEntry {
        /// The pool.
        pool: PoolName,
        /// The entry.
        entry: Entry,
    },
    /// Take a wallet out of a pool.
    RemoveEntry {
        /// The pool.
        pool: PoolName,
        /// The wallet.
        wallet: WalletAddress,
    },
    /// Replace the community's split rules.
    SetSplit {
        /// The new rules.
        rules: SplitRules,
    },
}

impl RequestedChange {
    /// One line saying what the change is, for titles and messages.
    pub fn summary(&self) -> String {
        match self {
            RequestedChange::AddEntry { pool, entry } => format!(
                "add {} to pool {pool} with weight {}",
                entry.wallet.payment_pointer(),
                entry.weight.get()
            ),
            RequestedChange::RemoveEntry { pool, wallet } => {
                format!("remove {} from pool {pool}", wallet.payment_pointer())
            }
            RequestedChange::SetSplit { rules } => format!(
                "set the split to {} bps for authors, {} bps for participants, default pool {}",
                rules.author_bps, rules.participants_bps, rules.default_pool
            ),
        }
    }
}

/// What one proposal is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "trigger", rename_all = "snake_case", deny_unknown_fields)]
pub enum Subject {
    /// A member stated a wallet.
    WalletAdded {
        /// The member.
        member: MemberId,
        /// Their wallet.
        wallet: WalletAddress,
    },
    /// A member replaced their wallet.
    WalletChanged {
        /// The member.
        member: MemberId,
        /// The wallet before.
        old_wallet: WalletAddress,
        /// The wallet now.
        wallet: WalletAddress,
    },
    /// A member cleared their wallet.
    WalletRemoved {
        /// The member.
        member: MemberId,
        /// The wallet they had.
        old_wallet: WalletAddress,
    },
    /// A new version of a policy is proposed; `source` is its whole TOML text, already checked.
    PolicyChange {
        /// The policy's name.
        policy: PolicyName,
        /// The proposed text.
        source: String,
    },
    /// An admin asks for a change.
    AdminRequest {
        /// Why, in the admin's words.
        note: String,
        /// What.
        change: RequestedChange,
    },
}

impl Subject {
    /// The subject for a member's wallet going from `from` to `to`; `None` when nothing changed.
    pub fn of_wallet_change(
        member: MemberId,
        from: Option<WalletAddress>,
        to: Option<WalletAddress>,
    ) -> Option<Subject> {
        match (from, to) {
            (None, Some(wallet)) => Some(Subject::WalletAdded { member, wallet }),
            (Some(old_wallet), Some(wallet)) if old_wallet != wallet => {
                Some(Subject::WalletChanged {
                    member,
                    old_wallet,
                    wallet,
                })
            }
            (Some(old_wallet), None) => Some(Subject::WalletRemoved { member, old_wallet }),
            _ => None,
        }
    }

    /// The kind of trigger this subject comes from.
    pub fn kind(&self) -> TriggerKind {
        match self {
            Subject::WalletAdded { .. } => TriggerKind::WalletAdded,
            Subject::WalletChanged { .. } => TriggerKind::WalletChanged,
            Subject::WalletRemoved { .. } => TriggerKind::WalletRemoved,
            Subject::PolicyChange { .. } => TriggerKind::PolicyChange,
            Subject::AdminRequest { .. } => TriggerKind::AdminRequest,
        }
    }

    /// The member the subject is about, who is told of the outcome.
    pub fn member(&self) -> Option<&MemberId> {
        match self {
            Subject::WalletAdded { member, .. }
            | Subject::WalletChanged { member, .. }
            | Subject::WalletRemoved { member, .. } => Some(member),
            Subject::PolicyChange { .. } | Subject::AdminRequest { .. } => None,
        }
    }

    /// Whether this subject, newer, makes a proposal about `older` moot: both are changes of the
    /// same member's wallet, so the older one is about a wallet the member no longer states.
    pub fn supersedes(&self, older: &Subject) -> bool {
        let wallet = |s: &Subject| {
            matches!(
                s.kind(),
                TriggerKind::WalletAdded | TriggerKind::WalletChanged | TriggerKind::WalletRemoved
            )
        };
        wallet(self) && wallet(older) && self.member() == older.member()
    }

    /// The text a placeholder stands for, when this subject fills it.
    pub fn fill(&self, placeholder: Placeholder) -> Option<String> {
        use Placeholder as P;
        match (self, placeholder) {
            (
                Subject::WalletAdded { member, .. }
                | Subject::WalletChanged { member, .. }
                | Subject::WalletRemoved { member, .. },
                P::Member,
            ) => Some(member.to_string()),
            (
                Subject::WalletAdded { wallet, .. } | Subject::WalletChanged { wallet, .. },
                P::Wallet,
            ) => Some(wallet.payment_pointer()),
            (
                Subject::WalletChanged { old_wallet, .. }
                | Subject::WalletRemoved { old_wallet, .. },
                P::OldWallet,
            ) => Some(old_wallet.payment_pointer()),
            (Subject::PolicyChange { policy, .. }, P::Policy) => Some(policy.to_string()),
            (Subject::PolicyChange { source, .. }, P::SourceHash) => {
                Some(alloy_primitives::keccak256(source.as_bytes()).to_string())
            }
            (Subject::AdminRequest { change, .. }, P::Request) => Some(change.summary()),
            (Subject::AdminRequest { note, .. }, P::Note) => Some(note.clone()),
            _ => None,
        }
    }
}
