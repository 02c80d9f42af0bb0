//! Context-aware split rules, from the Metagov grant report: a share for the author of the topic
//! being viewed, a share split equally among the topic's author and participants, and routing by
//! tag to a pool. The rest goes to the routed (or default) pool. Shares are basis points, so every
//! probability the selection derives from them is an exact fraction.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::name::{PoolName, Tag};
use super::{Cause, Timestamp};

/// 100% in basis points.
pub const BASIS_POINTS: u32 = 10_000;

/// Route a topic with this tag to this pool.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRoute {
    /// The tag to match.
    pub tag: Tag,
    /// The pool that then takes the pool share.
    pub pool: PoolName,
}

/// A community's split rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitRules {
    /// Basis points for the topic author's wallet (5000 = 50%).
    #[serde(default)]
    pub author_bps: u32,
    /// Basis points split equally among the topic's author and participants that have wallets.
    #[serde(default)]
    pub participants_bps: u32,
    /// Tag routes, tried in order; the first whose tag the topic carries wins.
    #[serde(default)]
    pub tag_routes: Vec<TagRoute>,
    /// The pool that takes the pool share when no route matches, and answers plain picks.
    #[serde(default = "default_pool_name")]
    pub default_pool: PoolName,
}

fn default_pool_name() -> PoolName {
    PoolName::parse("default").expect("`default` is a valid pool name")
}

impl Default for SplitRules {
    fn default() -> Self {
        SplitRules {
            author_bps: 0,
            participants_bps: 0,
            tag_routes: Vec::new(),
            default_pool: default_pool_name(),
        }
    }
}

/// Why split rules were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    /// The author's and participants' shares add up to more than 100%.
    #[error(
        "author_bps + participants_bps must be at most {BASIS_POINTS} (100%), found {author} + {participants}"
    )]
    SharesOverHundredPercent {
        /// author_bps as given.
        author: u32,
        /// participants_bps as given.
        participants: u32,
    },
    /// Two routes for one tag: only the first could ever apply.
    #[error("tag `{0}` is routed twice; route each tag once")]
    DuplicateTag(Tag),
}

impl SplitRules {
    /// Checks the rules on their own; whether the pools they name exist is the store's to check.
    pub fn validate(&self) -> Result<(), SplitError> {
        if self.author_bps.saturating_add(self.participants_bps) > BASIS_POINTS {
            return Err(SplitError::SharesOverHundredPercent {
                author: self.author_bps,
                participants: self.participants_bps,
            });
        }
        let mut tags = HashSet::new();
        for route in &self.tag_routes {
            if !tags.insert(&route.tag) {
                return Err(SplitError::DuplicateTag(route.tag.clone()));
            }
        }
        Ok(())
    }

    /// The pool that takes the pool share for a topic with these tags.
    pub fn pool_for_tags(&self, tags: &[Tag]) -> &PoolName {
        self.tag_routes
            .iter()
            .find(|route| tags.contains(&route.tag))
            .map_or(&self.default_pool, |route| &route.pool)
    }

    /// Every pool the rules name, so the store can check they exist.
    pub fn named_pools(&self) -> impl Iterator<Item = &PoolName> {
        std::iter::once(&self.default_pool).chain(self.tag_routes.iter().map(|r| &r.pool))
    }
}

/// One recorded state of a community's split rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SplitVersion {
    /// 1 for the first rules set, then +1 for each change.
    pub version: u64,
    /// The rules.
    pub rules: SplitRules,
    /// Why this version exists.
    pub cause: Cause,
    /// When it was recorded.
    pub recorded_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(s: &str) -> Tag {
        Tag::parse(s).unwrap()
    }
    fn pool(s: &str) -> PoolName {
        PoolName::parse(s).unwrap()
    }

    #[test]
    fn shares_over_a_hundred_percent_are_refused() {
        let rules = SplitRules {
            author_bps: 6000,
            participants_bps: 5000,
            ..SplitRules::default()
        };
        assert!(matches!(
            rules.validate(),
            Err(SplitError::SharesOverHundredPercent { .. })
        ));
    }

    #[test]
    fn a_tag_routed_twice_is_refused() {
        let rules = SplitRules {
            tag_routes: vec![
                TagRoute {
                    tag: tag("dev"),
                    pool: pool("dev"),
                },
                TagRoute {
                    tag: tag("dev"),
                    pool: pool("support"),
                },
            ],
            ..SplitRules::default()
        };
        assert_eq!(rules.validate(), Err(SplitError::DuplicateTag(tag("dev"))));
    }

    #[test]
    fn the_first_matching_route_wins_and_default_takes_the_rest() {
        let rules = SplitRules {
            tag_routes: vec![
                TagRoute {
                    tag: tag("dev"),
                    pool: pool("dev"),
                },
                TagRoute {
                    tag: tag("support"),
                    pool: pool("support"),
                },
            ],
            ..SplitRules::default()
        };
        assert_eq!(
            rules.pool_for_tags(&[tag("support"), tag("dev")]),
            &pool("dev")
        );
        assert_eq!(rules.pool_for_tags(&[tag("support")]), &pool("support"));
        assert_eq!(rules.pool_for_tags(&[tag("news")]), &pool("default"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<SplitRules>(r#"{"author_pct": 50}"#).unwrap_err();
        assert!(err.to_string().contains("author_pct"), "{err}");
    }
}
