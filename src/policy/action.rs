//! What follows a decision: the actions a policy file names (`ActionSpec`, checked against the
//! rule's triggers when the policy is read) and the plain values they resolve to (`Action`), which
//! a scheduler executes: close the vote, change a pool, change the split, tell the member, adopt a
//! policy. Applying an entry action to a pool is pure and lives here too, so that the scheduler and
//! the replay change pools the same way.

use serde::{Deserialize, Serialize};

use crate::domain::{
    Entry, MemberId, PolicyName, Pool, PoolError, PoolName, SplitRules, WalletAddress, Weight,
};
use crate::voting::VoteHandle;

use super::subject::{RequestedChange, Subject, TriggerKind};
use super::template::{Placeholder, Template};

/// An action as a policy file states it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionSpec {
    /// Put the member's new wallet into `pool` with `weight`.
    AddEntry {
        /// The pool.
        pool: PoolName,
        /// The entry's weight.
        weight: Weight,
    },
    /// Put the member's new wallet where their old one was in `pool`.
    ReplaceEntry {
        /// The pool.
        pool: PoolName,
        /// The entry's weight.
        weight: Weight,
    },
    /// Take the member's old wallet out of `pool`.
    RemoveEntry {
        /// The pool.
        pool: PoolName,
    },
    /// Replace the split rules with these.
    SetSplit {
        /// The new rules.
        rules: SplitRules,
    },
    /// Send the member a private message.
    Notify {
        /// The message's title; the rule's title when not given.
        title: Option<Template>,
        /// The message.
        text: Template,
    },
    /// Adopt the proposed policy version.
    AdoptPolicy,
    /// Carry out what the admin's request asks.
    ApplyRequest,
}

impl ActionSpec {
    /// The name used in policy files.
    pub fn name(&self) -> &'static str {
        match self {
            ActionSpec::AddEntry { .. } => "add_entry",
            ActionSpec::ReplaceEntry { .. } => "replace_entry",
            ActionSpec::RemoveEntry { .. } => "remove_entry",
            ActionSpec::SetSplit { .. } => "set_split",
            ActionSpec::Notify { .. } => "notify",
            ActionSpec::AdoptPolicy => "adopt_policy",
            ActionSpec::ApplyRequest => "apply_request",
        }
    }

    /// The triggers whose subject carries what this action needs; `None` means any.
    pub fn needs(&self) -> Option<&'static [TriggerKind]> {
        use TriggerKind::*;
        match self {
            ActionSpec::AddEntry { .. } => Some(&[WalletAdded, WalletChanged]),
            ActionSpec::ReplaceEntry { .. } => Some(&[WalletChanged]),
            ActionSpec::RemoveEntry { .. } => Some(&[WalletChanged, WalletRemoved]),
            ActionSpec::Notify { .. } => Some(&[WalletAdded, WalletChanged, WalletRemoved]),
            ActionSpec::AdoptPolicy => Some(&[PolicyChange]),
            ActionSpec::ApplyRequest => Some(&[AdminRequest]),
            ActionSpec::SetSplit { .. } => None,
        }
    }

    /// The action for this subject. `fill` gives the placeholders' values at this moment.
    pub(super) fn resolve(
        &self,
        subject: &Subject,
        default_title: &str,
        fill: &dyn Fn(Placeholder) -> Option<String>,
    ) -> Action {
        let member = subject.member().cloned();
        let entry = |wallet: &WalletAddress, weight: Weight| Entry {
            wallet: wallet.clone(),
            weight,
            label: None,
            member: member.clone(),
        };
        match (self, subject) {
            (
                ActionSpec::AddEntry { pool, weight },
                Subject::WalletAdded { wallet, .. } | Subject::WalletChanged { wallet, .. },
            ) => Action::AddEntry {
                pool: pool.clone(),
                entry: entry(wallet, *weight),
            },
            (
                ActionSpec::ReplaceEntry { pool, weight },
                Subject::WalletChanged {
                    old_wallet, wallet, ..
                },
            ) => Action::ReplaceEntry {
                pool: pool.clone(),
                old_wallet: old_wallet.clone(),
                entry: entry(wallet, *weight),
            },
            (
                ActionSpec::RemoveEntry { pool },
                Subject::WalletChanged { old_wallet, .. }
                | Subject::WalletRemoved { old_wallet, .. },
            ) => Action::RemoveEntry {
                pool: pool.clone(),
                wallet: old_wallet.clone(),
                member: member.clone(),
            },
            (ActionSpec::SetSplit { rules }, _) => Action::SetSplit {
                rules: rules.clone(),
            },
            (ActionSpec::Notify { title, text }, _) => Action::Notify {
                member: member.expect("notify is allowed only for subjects with a member"),
                title: title
                    .as_ref()
                    .map_or_else(|| default_title.to_string(), |t| t.render(fill)),
                text: text.render(fill),
            },
            (ActionSpec::AdoptPolicy, Subject::PolicyChange { policy, source }) => {
                Action::AdoptPolicy {
                    policy: policy.clone(),
                    source: source.clone(),
                }
            }
            (ActionSpec::ApplyRequest, Subject::AdminRequest { change, .. }) => match change {
                RequestedChange::AddEntry { pool, entry } => Action::AddEntry {
                    pool: pool.clone(),
                    entry: entry.clone(),
                },
                RequestedChange::RemoveEntry { pool, wallet } => Action::RemoveEntry {
                    pool: pool.clone(),
                    wallet: wallet.clone(),
                    member: None,
                },
                RequestedChange::SetSplit { rules } => Action::SetSplit {
                    rules: rules.clone(),
                },
            },
            (spec, subject) => unreachable!(
                "the policy parser allows `{}` only for triggers whose subject carries it, not {}",
                spec.name(),
                subject.kind().as_str()
            ),
        }
    }
}

/// One thing a scheduler does after a decision, as a plain value. Actions run in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Close the vote on its platform (a policy may decide before the platform's closing time).
    CloseVote {
        /// The vote.
        vote: VoteHandle,
    },
    /// Put `entry` into `pool`; an entry of the same wallet (or, failing that, of the entry's
    /// member) is replaced in place, so a member holds one entry.
    AddEntry {
        /// The pool.
        pool: PoolName,
        /// The entry.
        entry: Entry,
    },
    /// Put `entry` where `old_wallet`'s entry is, or failing that the entry of `entry`'s member
    /// (a change the community refused left the member's older wallet there); at the end when
    /// neither is in the pool.
    ReplaceEntry {
        /// The pool.
        pool: PoolName,
        /// The wallet whose entry is replaced.
        old_wallet: WalletAddress,
        /// The new entry.
        entry: Entry,
    },
    /// Take `wallet` out of `pool`; with a member, the member's entry goes even when it holds an
    /// older wallet (the community refused a change the member then withdrew).
    RemoveEntry {
        /// The pool.
        pool: PoolName,
        /// The wallet.
        wallet: WalletAddress,
        /// The member whose wallet it is, when it came from a member's profile.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        member: Option<MemberId>,
    },
    /// Replace the community's split rules.
    SetSplit {
        /// The new rules.
        rules: SplitRules,
    },
    /// Send `member` a private message.
    Notify {
        /// The recipient.
        member: MemberId,
        /// The message's title.
        title: String,
        /// The message.
        text: String,
    },
    /// Append `source` as the next version of `policy`.
    AdoptPolicy {
        /// The policy.
        policy: PolicyName,
        /// Its new text.
        source: String,
    },
}

impl Action {
    /// The pool this action changes, if it changes one.
    pub fn pool(&self) -> Option<&PoolName> {
        match self {
            Action::AddEntry { pool, .. }
            | Action::ReplaceEntry { pool, .. }
            | Action::RemoveEntry { pool, .. } => Some(pool),
            _ => None,
        }
    }

    /// `pool` after this action, or `None` when the action leaves it as it is (or is not a pool
    /// action). Entries keep their order.
    pub fn apply(&self, pool: &Pool) -> Option<Result<Pool, PoolError>> {
        let mut entries = pool.entries().to_vec();
        let position = |entries: &[Entry], wallet: &WalletAddress| {
            entries.iter().position(|e| &e.wallet == wallet)
        };
        // The wallet's entry, else the member's: a member's profile wallet has one entry.
        let place = |entries: &[Entry], wallet: &WalletAddress, member: Option<&MemberId>| {
            position(entries, wallet).or_else(|| {
                let member = member?;
                entries
                    .iter()
                    .position(|e| e.member.as_ref() == Some(member))
            })
        };
        match self {
            Action::AddEntry { entry, .. } => {
                match place(&entries, &entry.wallet, entry.member.as_ref()) {
                    Some(i) if entries[i] == *entry => return None,
                    Some(i) => entries[i] = entry.clone(),
                    None => entries.push(entry.clone()),
                }
            }
            Action::ReplaceEntry {
                old_wallet, entry, ..
            } => {
                if let Some(i) =
                    position(&entries, &entry.wallet).filter(|_| entry.wallet != *old_wallet)
                {
                    entries.remove(i);
                }
                match place(&entries, old_wallet, entry.member.as_ref()) {
                    Some(i) => entries[i] = entry.clone(),
                    None => entries.push(entry.clone()),
                }
                if entries == pool.entries() {
                    return None;
                }
            }
            Action::RemoveEntry { wallet, member, .. } => {
                entries.remove(place(&entries, wallet, member.as_ref())?);
            }
            _ => return None,
        }
        Some(Pool::new(entries))
    }

    /// One line for people to read.
    pub fn describe(&self) -> String {
        match self {
            Action::CloseVote { vote } => {
                format!("close vote {} on {}", vote.external_id, vote.backend)
            }
            Action::AddEntry { pool, entry } => format!(
                "add {} to pool {pool} with weight {}",
                entry.wallet.payment_pointer(),
                entry.weight.get()
            ),
            Action::ReplaceEntry {
                pool,
                old_wallet,
                entry,
            } => format!(
                "replace {} by {} in pool {pool} with weight {}",
                old_wallet.payment_pointer(),
                entry.wallet.payment_pointer(),
                entry.weight.get()
            ),
            Action::RemoveEntry { pool, wallet, .. } => {
                format!("remove {} from pool {pool}", wallet.payment_pointer())
            }
            Action::SetSplit { rules } => format!(
                "set the split ({} bps authors, {} bps participants, default pool {})",
                rules.author_bps, rules.participants_bps, rules.default_pool
            ),
            Action::Notify { member, title, .. } => format!("tell {member}: {title}"),
            Action::AdoptPolicy { policy, .. } => {
                format!("adopt the new version of policy {policy}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(wallet: &str, weight: u64) -> Entry {
        Entry {
            wallet: WalletAddress::parse(wallet).unwrap(),
            weight: Weight::new(weight).unwrap(),
            label: None,
            member: None,
        }
    }
    fn pool(entries: &[Entry]) -> Pool {
        Pool::new(entries.to_vec()).unwrap()
    }
    fn name() -> PoolName {
        PoolName::parse("default").unwrap()
    }

    #[test]
    fn adding_appends_once_and_changes_nothing_the_second_time() {
        let add = Action::AddEntry {
            pool: name(),
            entry: entry("$b.example", 1),
        };
        let before = pool(&[entry("$a.example", 1)]);
        let after = add.apply(&before).unwrap().unwrap();
        assert_eq!(
            after.entries(),
            [entry("$a.example", 1), entry("$b.example", 1)]
        );
        assert_eq!(add.apply(&after), None);
    }

    #[test]
    fn replacing_keeps_the_place_and_removing_drops_the_entry() {
        let before = pool(&[entry("$a.example", 1), entry("$b.example", 1)]);
        let replace = Action::ReplaceEntry {
            pool: name(),
            old_wallet: WalletAddress::parse("$a.example").unwrap(),
            entry: entry("$c.example", 1),
        };
        let after = replace.apply(&before).unwrap().unwrap();
        assert_eq!(
            after.entries(),
            [entry("$c.example", 1), entry("$b.example", 1)]
        );
        let merge = Action::ReplaceEntry {
            pool: name(),
            old_wallet: WalletAddress::parse("$a.example").unwrap(),
            entry: entry("$b.example", 1),
        };
        assert_eq!(
            merge.apply(&before).unwrap().unwrap().entries(),
            [entry("$b.example", 1)]
        );
        let remove = Action::RemoveEntry {
            pool: name(),
            wallet: WalletAddress::parse("$b.example").unwrap(),
            member: None,
        };
        assert_eq!(
            remove.apply(&after).unwrap().unwrap().entries(),
            [entry("$c.example", 1)]
        );
        assert_eq!(remove.apply(&pool(&[entry("$a.example", 1)])), None);
    }

    fn of(member: &str, wallet: &str) -> Entry {
        Entry {
            member: Some(MemberId::parse(member).unwrap()),
            ..entry(wallet, 1)
        }
    }

    #[test]
    fn a_member_keeps_one_entry_when_a_refused_change_left_an_older_wallet() {
        // ann's entry holds $a; her change to $b was refused, so the pool never saw $b.
        let before = pool(&[of("ann", "$a.example"), of("bob", "$z.example")]);
        let replace = Action::ReplaceEntry {
            pool: name(),
            old_wallet: WalletAddress::parse("$b.example").unwrap(),
            entry: of("ann", "$c.example"),
        };
        assert_eq!(
            replace.apply(&before).unwrap().unwrap().entries(),
            [of("ann", "$c.example"), of("bob", "$z.example")]
        );
        let add = Action::AddEntry {
            pool: name(),
            entry: of("ann", "$c.example"),
        };
        assert_eq!(
            add.apply(&before).unwrap().unwrap().entries(),
            [of("ann", "$c.example"), of("bob", "$z.example")]
        );
        let remove = Action::RemoveEntry {
            pool: name(),
            wallet: WalletAddress::parse("$b.example").unwrap(),
            member: Some(MemberId::parse("ann").unwrap()),
        };
        assert_eq!(
            remove.apply(&before).unwrap().unwrap().entries(),
            [of("bob", "$z.example")]
        );
        let by_wallet_only = Action::RemoveEntry {
            pool: name(),
            wallet: WalletAddress::parse("$b.example").unwrap(),
            member: None,
        };
        assert_eq!(
            by_wallet_only.apply(&before),
            None,
            "no member, no match by member"
        );
    }
}
