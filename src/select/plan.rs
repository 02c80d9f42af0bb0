//! A topic's split plan: the three components a page view of that topic is shared among (the
//! author's wallet, the author and participants equally, and a pool), with the fallbacks applied.
//!
//! When the author has no wallet, the author's share falls back to the pool; when nobody in the
//! topic has one, the participants' share does too. When the pool is empty, its share is left out
//! and the other components keep their proportions.

use std::collections::HashSet;

use serde::Serialize;

use crate::domain::{BASIS_POINTS, MemberId, PoolName, SplitRules, TopicFacts, WalletAddress};

/// A member who receives a share directly, through the wallet on their profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recipient {
    /// Who.
    pub member: MemberId,
    /// Their wallet.
    pub wallet: WalletAddress,
}

/// Which part of a split a pick came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// The topic author's share.
    Author,
    /// The share split equally among the author and participants.
    Participant,
    /// The (routed or default) pool's share.
    Pool,
}

impl Component {
    /// The component's name, as the API and the metrics spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Author => "author",
            Component::Participant => "participant",
            Component::Pool => "pool",
        }
    }
}

/// The resolved split of one topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopicPlan {
    /// The pool that takes the pool share.
    pub pool: PoolName,
    /// The author, when the author has a wallet.
    pub author: Option<Recipient>,
    /// Author and participants with wallets, each wallet once, in first-seen order.
    pub participants: Vec<Recipient>,
    /// The author's share in basis points, after fallback (0 when the author has no wallet).
    pub author_bps: u32,
    /// The participants' share in basis points, after fallback.
    pub participants_bps: u32,
}

impl TopicPlan {
    /// Resolves the rules for one topic, given how to find a member's wallet.
    pub fn new<'w>(
        rules: &SplitRules,
        facts: &TopicFacts,
        wallet_of: impl Fn(&MemberId) -> Option<&'w WalletAddress>,
    ) -> Self {
        let author = wallet_of(&facts.author).map(|wallet| Recipient {
            member: facts.author.clone(),
            wallet: wallet.clone(),
        });
        let mut seen = HashSet::new();
        let participants: Vec<Recipient> = std::iter::once(&facts.author)
            .chain(&facts.participants)
            .filter_map(|member| {
                let wallet = wallet_of(member)?;
                seen.insert(wallet).then(|| Recipient {
                    member: member.clone(),
                    wallet: wallet.clone(),
                })
            })
            .collect();
        TopicPlan {
            pool: rules.pool_for_tags(&facts.tags).clone(),
            author_bps: if author.is_some() {
                rules.author_bps
            } else {
                0
            },
            participants_bps: if participants.is_empty() {
                0
            } else {
                rules.participants_bps
            },
            author,
            participants,
        }
    }

    /// The plan for a topic the service knows nothing about yet: all of it to the default pool.
    pub fn unknown_topic(rules: &SplitRules) -> Self {
        TopicPlan {
            pool: rules.default_pool.clone(),
            author: None,
            participants: Vec::new(),
            author_bps: 0,
            participants_bps: 0,
        }
    }

    /// The pool's share in basis points: whatever the author and participants do not take.
    pub fn pool_bps(&self) -> u32 {
        BASIS_POINTS - self.author_bps - self.participants_bps
    }

    /// Weights of the author, participant and pool components, leaving the pool out when it is
    /// empty. All zero means nothing can be picked.
    pub fn component_weights(&self, pool_has_entries: bool) -> [u32; 3] {
        let pool = if pool_has_entries { self.pool_bps() } else { 0 };
        [self.author_bps, self.participants_bps, pool]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn m(s: &str) -> MemberId {
        MemberId::parse(s).unwrap()
    }
    fn w(s: &str) -> WalletAddress {
        WalletAddress::parse(s).unwrap()
    }

    fn rules(author: u32, participants: u32) -> SplitRules {
        SplitRules {
            author_bps: author,
            participants_bps: participants,
            ..SplitRules::default()
        }
    }

    #[test]
    fn an_author_without_wallet_gives_their_share_to_the_pool() {
        let wallets: HashMap<MemberId, WalletAddress> = HashMap::new();
        let facts = TopicFacts {
            author: m("ann"),
            participants: vec![],
            tags: vec![],
        };
        let plan = TopicPlan::new(&rules(5000, 0), &facts, |id| wallets.get(id));
        assert_eq!(plan.author_bps, 0);
        assert_eq!(plan.pool_bps(), 10_000);
    }

    #[test]
    fn participants_count_each_wallet_once_and_include_the_author() {
        let wallets: HashMap<MemberId, WalletAddress> = [
            (m("ann"), w("$a.example")),
            (m("bob"), w("$b.example")),
            (m("cy"), w("$a.example")),
        ]
        .into_iter()
        .collect();
        let facts = TopicFacts {
            author: m("ann"),
            participants: vec![m("bob"), m("ann"), m("cy"), m("dee")],
            tags: vec![],
        };
        let plan = TopicPlan::new(&rules(0, 3000), &facts, |id| wallets.get(id));
        let members: Vec<&str> = plan
            .participants
            .iter()
            .map(|r| r.member.as_str())
            .collect();
        assert_eq!(members, ["ann", "bob"]);
        assert_eq!(plan.component_weights(true), [0, 3000, 7000]);
        assert_eq!(plan.component_weights(false), [0, 3000, 0]);
    }

    #[test]
    fn component_names_match_their_serialised_form() {
        for component in [Component::Author, Component::Participant, Component::Pool] {
            assert_eq!(serde_json::to_value(component).unwrap(), component.as_str());
        }
    }
}
