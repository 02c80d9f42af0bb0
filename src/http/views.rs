//! The JSON the API answers with: stable shapes built from domain values, documented in the
//! OpenAPI document.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Community, PoolName, PoolVersion, SplitVersion};
use crate::select::{Pick, Share, TopicPlan, pool_distribution};

/// A community and what it holds.
#[derive(Serialize, ToSchema)]
pub struct CommunityView {
    /// The slug used in URLs.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// Its pools, by name.
    pub pools: Vec<PoolSummary>,
    /// The split rules in force, if any were set.
    pub splits: Option<SplitView>,
}

/// A pool in a list.
#[derive(Serialize, ToSchema)]
pub struct PoolSummary {
    /// The pool's name.
    pub name: String,
    /// Its current version.
    pub version: u64,
    /// How many entries it holds.
    pub entries: usize,
}

impl CommunityView {
    /// The view of a live community.
    pub fn new(
        community: &Community,
        pools: Vec<(&PoolName, &PoolVersion)>,
        splits: Option<SplitView>,
    ) -> Self {
        CommunityView {
            slug: community.slug.to_string(),
            name: community.name.clone(),
            created_at: community.created_at.to_rfc3339(),
            pools: pools
                .into_iter()
                .map(|(name, v)| PoolSummary {
                    name: name.to_string(),
                    version: v.version,
                    entries: v.pool.entries().len(),
                })
                .collect(),
            splits,
        }
    }
}

/// One wallet's share of a pool or a context.
#[derive(Serialize, ToSchema)]
pub struct ShareView {
    /// The wallet address in normal form.
    pub wallet: String,
    /// The shortest payment-pointer spelling.
    pub payment_pointer: String,
    /// The entry's weight, for pool entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u64>,
    /// The entry's label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The member the wallet belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// The exact share as a reduced fraction, e.g. `1/3`.
    pub share: String,
    /// The share in percent, rounded to four decimals, e.g. `33.3333`.
    pub percent: String,
}

impl ShareView {
    fn new(share: &Share, weight: Option<u64>) -> Self {
        ShareView {
            wallet: share.wallet.to_string(),
            payment_pointer: share.wallet.payment_pointer(),
            weight,
            label: share.label.as_ref().map(|l| l.as_str().to_string()),
            member: share.member.as_ref().map(ToString::to_string),
            share: share.fraction(),
            percent: share.percent(),
        }
    }

    /// The shares of a context's distribution.
    pub fn all(shares: &[Share]) -> Vec<ShareView> {
        shares.iter().map(|s| ShareView::new(s, None)).collect()
    }
}

/// Most entries one answer carries: a pool may hold 100,000, so every answer that shows a pool's
/// entries shows at most this many and links to the rest.
pub const MAX_ENTRIES_PER_ANSWER: usize = 1_000;

/// Which of a version's entries an answer carries: from `offset`, at most `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryWindow {
    /// Entries skipped, in the pool's order.
    pub offset: usize,
    /// Most entries shown.
    pub limit: usize,
}

impl EntryWindow {
    /// The first entries, as many as an answer carries.
    pub const FIRST: EntryWindow = EntryWindow {
        offset: 0,
        limit: MAX_ENTRIES_PER_ANSWER,
    };
}

/// One version of a pool, with a window of its entries, each with its exact share.
#[derive(Serialize, ToSchema)]
pub struct PoolView {
    /// The pool's name.
    pub pool: String,
    /// The version: 1 for the first state, +1 for each change.
    pub version: u64,
    /// Why this version exists.
    #[schema(value_type = Object)]
    pub cause: serde_json::Value,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// The sum of the weights.
    pub total_weight: u64,
    /// How many entries the version holds in all.
    pub entry_count: usize,
    /// The position of `entries[0]` among them.
    pub entries_offset: usize,
    /// Entries in order from `entries_offset`, each with its exact share of the whole pool; at
    /// most 1,000 (`next_entries` has the rest).
    pub entries: Vec<ShareView>,
    /// The URL of the version's next entries, when this answer does not carry them all.
    pub next_entries: Option<String>,
}

impl PoolView {
    /// The view of a pool version's entries in `window`; `next_at(offset)` is the URL of the
    /// entries from `offset`, linked when the window leaves some out.
    pub fn new(
        name: &PoolName,
        version: &PoolVersion,
        window: EntryWindow,
        next_at: impl FnOnce(usize) -> String,
    ) -> Self {
        let shares = pool_distribution(&version.pool);
        let all = version.pool.entries();
        let end = window
            .offset
            .saturating_add(window.limit.min(MAX_ENTRIES_PER_ANSWER))
            .min(all.len());
        let start = window.offset.min(end);
        PoolView {
            pool: name.to_string(),
            version: version.version,
            cause: serde_json::to_value(&version.cause).expect("a cause always serialises"),
            recorded_at: version.recorded_at.to_rfc3339(),
            total_weight: version.pool.total_weight(),
            entry_count: all.len(),
            entries_offset: start,
            entries: all[start..end]
                .iter()
                .zip(&shares[start..end])
                .map(|(entry, share)| ShareView::new(share, Some(entry.weight.get())))
                .collect(),
            next_entries: (end < all.len()).then(|| next_at(end)),
        }
    }
}

/// A page of a pool's history: at most `limit` versions carrying at most 1,000 entries in all.
/// A version whose entries do not all fit links to the rest (`next_entries`).
#[derive(Serialize, ToSchema)]
pub struct HistoryView {
    /// The versions on this page.
    pub versions: Vec<PoolView>,
    /// The next page's URL, when there may be more.
    pub next: Option<String>,
}

/// One version of the split rules.
#[derive(Serialize, ToSchema)]
pub struct SplitView {
    /// The version.
    pub version: u64,
    /// The rules.
    #[schema(value_type = Object)]
    pub rules: serde_json::Value,
    /// Why this version exists.
    #[schema(value_type = Object)]
    pub cause: serde_json::Value,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
}

impl SplitView {
    /// The view of a split version.
    pub fn new(split: &SplitVersion) -> Self {
        SplitView {
            version: split.version,
            rules: serde_json::to_value(&split.rules).expect("rules always serialise"),
            cause: serde_json::to_value(&split.cause).expect("a cause always serialises"),
            recorded_at: split.recorded_at.to_rfc3339(),
        }
    }
}

/// The split rules in force and every earlier version.
#[derive(Serialize, ToSchema)]
pub struct SplitsView {
    /// The rules in force: the newest version, or the defaults (all to the `default` pool).
    #[schema(value_type = Object)]
    pub current: serde_json::Value,
    /// Every version, oldest first.
    pub history: Vec<SplitView>,
}

/// How a topic's page views are shared.
#[derive(Serialize, ToSchema)]
pub struct TopicView {
    /// The topic id.
    pub topic: String,
    /// Whether the service has facts about the topic (an unknown topic uses the default pool).
    pub known: bool,
    /// The resolved plan.
    #[schema(value_type = Object)]
    pub plan: serde_json::Value,
    /// The pool share in basis points.
    pub pool_bps: u32,
    /// Every wallet's exact combined share.
    pub shares: Vec<ShareView>,
}

impl TopicView {
    /// The view of a topic's plan and distribution.
    pub fn new(topic: &str, known: bool, plan: &TopicPlan, shares: &[Share]) -> Self {
        TopicView {
            topic: topic.to_string(),
            known,
            plan: serde_json::to_value(plan).expect("a plan always serialises"),
            pool_bps: plan.pool_bps(),
            shares: ShareView::all(shares),
        }
    }
}

/// One pick's answer.
#[derive(Serialize, ToSchema)]
pub struct PickView {
    /// The chosen wallet address.
    pub wallet: String,
    /// Its payment-pointer spelling.
    pub payment_pointer: String,
    /// Its label, when it came from a labelled pool entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The member it belongs to, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// `pool`, `author` or `participant`.
    pub component: String,
    /// The pool that took the pool share.
    pub pool: String,
    /// The pool version the wallet came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_version: Option<u64>,
    /// The split rules' version that applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub splits_version: Option<u64>,
    /// The seed, when the caller gave one (the same seed gives the same pick).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

impl PickView {
    /// The view of a pick.
    pub fn new(pick: &Pick<'_>, seed: Option<u64>) -> Self {
        PickView {
            wallet: pick.wallet.to_string(),
            payment_pointer: pick.wallet.payment_pointer(),
            label: pick.label.map(|l| l.as_str().to_string()),
            member: pick.member.map(ToString::to_string),
            component: pick.component.as_str().to_string(),
            pool: pick.pool.to_string(),
            pool_version: pick.pool_version,
            splits_version: pick.splits_version,
            seed,
        }
    }
}
