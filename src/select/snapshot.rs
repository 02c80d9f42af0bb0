//! An immutable, prepared view of one community's configuration: everything a pick needs, built
//! once when the configuration changes and then shared read-only (invariant 6: a pick never waits
//! on the database).

use std::collections::HashMap;

use rand::Rng;
use serde::Serialize;

use crate::domain::{
    CommunityConfig, Label, MemberId, PoolName, PoolVersion, SplitRules, TopicId, WalletAddress,
};

use super::alias::AliasTable;
use super::distribution::{Share, pool_distribution, topic_distribution};
use super::plan::{Component, TopicPlan};

/// What a page asks a pointer for.
#[derive(Clone, Copy, Debug)]
pub enum PickContext<'a> {
    /// The community's default pool.
    Default,
    /// A named pool, with no split.
    Pool(&'a PoolName),
    /// A topic page: the community's split rules apply.
    Topic(&'a TopicId),
}

/// Why nothing could be picked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PickError {
    /// The community has no pool of that name.
    #[error("the community has no pool named `{0}`")]
    UnknownPool(PoolName),
    /// Every component the context could draw from is empty.
    #[error("nothing to pick: {0} has no entries and no member share applies")]
    NothingToPick(PoolName),
}

/// One pick's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Pick<'a> {
    /// The chosen wallet.
    pub wallet: &'a WalletAddress,
    /// Its label, when it came from a labelled pool entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<&'a Label>,
    /// The member it belongs to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<&'a MemberId>,
    /// Which part of the split it came from.
    pub component: Component,
    /// The pool that took the pool share for this context.
    pub pool: &'a PoolName,
    /// That pool's version, when the wallet came from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_version: Option<u64>,
    /// The split rules' version in force, when the context applied them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub splits_version: Option<u64>,
}

/// A pool ready for O(1) picks.
#[derive(Debug)]
pub struct PoolTable {
    /// The version it was built from.
    pub current: PoolVersion,
    alias: Option<AliasTable>,
}

impl PoolTable {
    fn new(current: PoolVersion) -> Self {
        let weights: Vec<u64> = current
            .pool
            .entries()
            .iter()
            .map(|e| e.weight.get())
            .collect();
        PoolTable {
            alias: AliasTable::new(&weights),
            current,
        }
    }

    fn has_entries(&self) -> bool {
        self.alias.is_some()
    }
}

/// A community, prepared for picking.
#[derive(Debug)]
pub struct CommunitySnapshot {
    rules: SplitRules,
    splits_version: Option<u64>,
    pools: HashMap<PoolName, PoolTable>,
    topics: HashMap<TopicId, TopicPlan>,
}

impl CommunitySnapshot {
    /// Prepares alias tables for every pool and a plan for every known topic.
    pub fn build(config: CommunityConfig) -> Self {
        let (rules, splits_version) = match config.splits {
            Some(split) => (split.rules, Some(split.version)),
            None => (SplitRules::default(), None),
        };
        let wallets: HashMap<MemberId, WalletAddress> = config.member_wallets.into_iter().collect();
        let topics = config
            .topics
            .into_iter()
            .map(|(id, facts)| (id, TopicPlan::new(&rules, &facts, |m| wallets.get(m))))
            .collect();
        let pools = config
            .pools
            .into_iter()
            .map(|(name, version)| (name, PoolTable::new(version)))
            .collect();
        CommunitySnapshot {
            rules,
            splits_version,
            pools,
            topics,
        }
    }

    /// The split rules in force and their version.
    pub fn splits(&self) -> (&SplitRules, Option<u64>) {
        (&self.rules, self.splits_version)
    }

    /// A pool's current version, if the community has that pool.
    pub fn pool(&self, name: &PoolName) -> Option<&PoolVersion> {
        self.pools.get(name).map(|t| &t.current)
    }

    /// The community's pool names, sorted.
    pub fn pool_names(&self) -> Vec<&PoolName> {
        let mut names: Vec<_> = self.pools.keys().collect();
        names.sort();
        names
    }

    /// The plan for a topic; an unknown topic gets the default pool.
    pub fn topic_plan(&self, topic: &TopicId) -> std::borrow::Cow<'_, TopicPlan> {
        match self.topics.get(topic) {
            Some(plan) => std::borrow::Cow::Borrowed(plan),
            None => std::borrow::Cow::Owned(TopicPlan::unknown_topic(&self.rules)),
        }
    }

    /// Picks a wallet for the context, with probabilities exactly as [`Self::distribution`] says.
    pub fn pick<R: Rng + ?Sized>(
        &self,
        context: PickContext<'_>,
        rng: &mut R,
    ) -> Result<Pick<'_>, PickError> {
        match context {
            PickContext::Default => self.pick_from_pool(&self.rules.default_pool, None, rng),
            PickContext::Pool(name) => self.pick_from_pool(name, None, rng),
            PickContext::Topic(topic) => match self.topics.get(topic) {
                Some(plan) => self.pick_for_topic(plan, rng),
                None => self.pick_from_pool(&self.rules.default_pool, self.splits_version, rng),
            },
        }
    }

    fn pick_from_pool<R: Rng + ?Sized>(
        &self,
        name: &PoolName,
        splits_version: Option<u64>,
        rng: &mut R,
    ) -> Result<Pick<'_>, PickError> {
        let (pool_name, table) = self
            .pools
            .get_key_value(name)
            .ok_or_else(|| PickError::UnknownPool(name.clone()))?;
        let alias = table
            .alias
            .as_ref()
            .ok_or_else(|| PickError::NothingToPick(name.clone()))?;
        let entry = &table.current.pool.entries()[alias.pick(rng)];
        Ok(Pick {
            wallet: &entry.wallet,
            label: entry.label.as_ref(),
            member: entry.member.as_ref(),
            component: Component::Pool,
            pool: pool_name,
            pool_version: Some(table.current.version),
            splits_version,
        })
    }

    fn pick_for_topic<'s, R: Rng + ?Sized>(
        &'s self,
        plan: &'s TopicPlan,
        rng: &mut R,
    ) -> Result<Pick<'s>, PickError> {
        let pool_has_entries = self
            .pools
            .get(&plan.pool)
            .is_some_and(PoolTable::has_entries);
        let [author, participants, pool] = plan.component_weights(pool_has_entries);
        let total = author + participants + pool;
        if total == 0 {
            return Err(PickError::NothingToPick(plan.pool.clone()));
        }
        let draw = rng.random_range(0..total);
        let direct = |recipient: &'s super::plan::Recipient, component| Pick {
            wallet: &recipient.wallet,
            label: None,
            member: Some(&recipient.member),
            component,
            pool: &plan.pool,
            pool_version: None,
            splits_version: self.splits_version,
        };
        if draw < author {
            let recipient = plan
                .author
                .as_ref()
                .expect("a non-zero author share has a wallet");
            Ok(direct(recipient, Component::Author))
        } else if draw < author + participants {
            let recipient = &plan.participants[rng.random_range(0..plan.participants.len())];
            Ok(direct(recipient, Component::Participant))
        } else {
            self.pick_from_pool(&plan.pool, self.splits_version, rng)
        }
    }

    /// The exact share of every wallet for the context.
    pub fn distribution(&self, context: PickContext<'_>) -> Result<Vec<Share>, PickError> {
        let pool_of = |name: &PoolName| {
            self.pools
                .get(name)
                .map(|t| &t.current.pool)
                .ok_or_else(|| PickError::UnknownPool(name.clone()))
        };
        match context {
            PickContext::Default => Ok(pool_distribution(pool_of(&self.rules.default_pool)?)),
            PickContext::Pool(name) => Ok(pool_distribution(pool_of(name)?)),
            PickContext::Topic(topic) => {
                let plan = self.topic_plan(topic);
                Ok(topic_distribution(
                    &plan,
                    self.pools.get(&plan.pool).map(|t| &t.current.pool),
                ))
            }
        }
    }
}
