//! Statistical check of selection: over 100,000 seeded picks, a chi-square test accepts the exact
//! distribution for a plain pool and for each kind of split, and rejects a deliberately wrong one.
//! The expected shares are also checked against hand-computed fractions, so the test is not
//! circular.

use std::collections::HashMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use revshare_oracle::domain::{
    Cause, CommunityConfig, Entry, MemberId, Pool, PoolName, PoolVersion, SplitRules, SplitVersion,
    Tag, TagRoute, Timestamp, TopicFacts, TopicId, WalletAddress, Weight,
};
use revshare_oracle::select::{CommunitySnapshot, PickContext};

const PICKS: u32 = 100_000;

fn wallet(s: &str) -> WalletAddress {
    WalletAddress::parse(s).unwrap()
}

fn pool(entries: &[(&str, u64)]) -> Pool {
    Pool::new(
        entries
            .iter()
            .map(|(w, weight)| Entry {
                wallet: wallet(w),
                weight: Weight::new(*weight).unwrap(),
                label: None,
                member: None,
            })
            .collect(),
    )
    .unwrap()
}

fn version(pool: Pool) -> PoolVersion {
    PoolVersion {
        version: 1,
        pool,
        cause: Cause::AdminBootstrap { note: None },
        recorded_at: Timestamp(0),
    }
}

fn community(rules: SplitRules) -> CommunitySnapshot {
    let m = |s: &str| MemberId::parse(s).unwrap();
    CommunitySnapshot::build(CommunityConfig {
        pools: vec![
            (
                PoolName::parse("default").unwrap(),
                version(pool(&[
                    ("$p1.example", 1),
                    ("$p2.example", 3),
                    ("$ann.example", 4),
                ])),
            ),
            (
                PoolName::parse("dev").unwrap(),
                version(pool(&[("$core1.example", 2), ("$core2.example", 1)])),
            ),
        ],
        splits: Some(SplitVersion {
            version: 1,
            rules,
            cause: Cause::AdminBootstrap { note: None },
            recorded_at: Timestamp(0),
        }),
        member_wallets: vec![
            (m("ann"), wallet("$ann.example")),
            (m("bob"), wallet("$bob.example")),
            (m("cy"), wallet("$cy.example")),
        ],
        topics: vec![
            (
                TopicId::parse("1").unwrap(),
                TopicFacts {
                    author: m("ann"),
                    participants: vec![m("bob"), m("cy")],
                    tags: vec![],
                },
            ),
            (
                TopicId::parse("2").unwrap(),
                TopicFacts {
                    author: m("nowallet"),
                    participants: vec![],
                    tags: vec![Tag::parse("dev").unwrap()],
                },
            ),
        ],
    })
}

/// Upper 0.1% points of chi-square for 1 to 10 degrees of freedom, from published tables.
const CRITICAL_0_1_PERCENT: [f64; 10] = [
    10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588,
];

fn critical_value(df: usize) -> f64 {
    CRITICAL_0_1_PERCENT[df - 1]
}

fn chi_square(observed: &HashMap<String, u32>, expected: &[(String, f64)]) -> f64 {
    assert_eq!(
        observed
            .keys()
            .filter(|w| !expected.iter().any(|(e, _)| e == *w))
            .count(),
        0,
        "every picked wallet is expected"
    );
    expected
        .iter()
        .map(|(w, p)| {
            let e = p * f64::from(PICKS);
            let o = f64::from(*observed.get(w).unwrap_or(&0));
            (o - e).powi(2) / e
        })
        .sum()
}

fn sample(
    snapshot: &CommunitySnapshot,
    context: PickContext<'_>,
    seed: u64,
) -> HashMap<String, u32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut counts = HashMap::new();
    for _ in 0..PICKS {
        let pick = snapshot.pick(context, &mut rng).unwrap();
        *counts.entry(pick.wallet.payment_pointer()).or_insert(0) += 1;
    }
    counts
}

fn exact(snapshot: &CommunitySnapshot, context: PickContext<'_>) -> Vec<(String, String, f64)> {
    snapshot
        .distribution(context)
        .unwrap()
        .into_iter()
        .map(|s| {
            (
                s.wallet.payment_pointer(),
                s.fraction(),
                s.numerator as f64 / s.denominator as f64,
            )
        })
        .collect()
}

/// Asserts the exact shares, then that 100,000 picks fit them.
fn check(
    snapshot: &CommunitySnapshot,
    context: PickContext<'_>,
    shares: &[(&str, &str)],
    seed: u64,
) -> HashMap<String, u32> {
    let exact = exact(snapshot, context);
    let fractions: Vec<(&str, &str)> = exact
        .iter()
        .map(|(w, f, _)| (w.as_str(), f.as_str()))
        .collect();
    assert_eq!(fractions, shares, "exact shares");
    let observed = sample(snapshot, context, seed);
    let expected: Vec<(String, f64)> = exact.into_iter().map(|(w, _, p)| (w, p)).collect();
    let statistic = chi_square(&observed, &expected);
    let critical = critical_value(expected.len() - 1);
    assert!(
        statistic < critical,
        "chi-square {statistic:.2} ≥ {critical:.2}: picks do not fit {shares:?}: {observed:?}"
    );
    observed
}

#[test]
fn a_plain_pool_fits_its_weights_and_a_wrong_distribution_is_rejected() {
    let snapshot = community(SplitRules::default());
    let default = PoolName::parse("default").unwrap();
    let observed = check(
        &snapshot,
        PickContext::Pool(&default),
        &[
            ("$p1.example", "1/8"),
            ("$p2.example", "3/8"),
            ("$ann.example", "1/2"),
        ],
        1,
    );

    let uniform: Vec<(String, f64)> = ["$p1.example", "$p2.example", "$ann.example"]
        .iter()
        .map(|w| (w.to_string(), 1.0 / 3.0))
        .collect();
    assert!(
        chi_square(&observed, &uniform) > critical_value(2),
        "equal weights are rejected"
    );
    let slightly_off = vec![
        ("$p1.example".to_string(), 0.135),
        ("$p2.example".to_string(), 0.365),
        ("$ann.example".to_string(), 0.5),
    ];
    assert!(
        chi_square(&observed, &slightly_off) > critical_value(2),
        "a one-point shift is rejected"
    );
}

#[test]
fn small_weights_beside_large_ones_are_not_biased() {
    let snapshot = CommunitySnapshot::build(CommunityConfig {
        pools: vec![(
            PoolName::parse("default").unwrap(),
            version(pool(&[
                ("$tiny.example", 1),
                ("$big.example", 99),
                ("$mid.example", 20),
            ])),
        )],
        ..CommunityConfig::default()
    });
    check(
        &snapshot,
        PickContext::Default,
        &[
            ("$tiny.example", "1/120"),
            ("$big.example", "33/40"),
            ("$mid.example", "1/6"),
        ],
        2,
    );
}

#[test]
fn an_author_share_fits_and_adds_to_the_authors_pool_entry() {
    let snapshot = community(SplitRules {
        author_bps: 5000,
        ..SplitRules::default()
    });
    let topic = TopicId::parse("1").unwrap();
    // ann: 1/2 + 1/2 × 1/2 = 3/4; p1: 1/2 × 1/8; p2: 1/2 × 3/8.
    check(
        &snapshot,
        PickContext::Topic(&topic),
        &[
            ("$ann.example", "3/4"),
            ("$p1.example", "1/16"),
            ("$p2.example", "3/16"),
        ],
        3,
    );
}

#[test]
fn an_equal_participant_split_fits() {
    let snapshot = community(SplitRules {
        participants_bps: 6000,
        ..SplitRules::default()
    });
    let topic = TopicId::parse("1").unwrap();
    // ann, bob, cy: 1/5 each; the pool's 2/5 adds ann 1/5 more, p1 1/20, p2 3/20.
    check(
        &snapshot,
        PickContext::Topic(&topic),
        &[
            ("$ann.example", "2/5"),
            ("$bob.example", "1/5"),
            ("$cy.example", "1/5"),
            ("$p1.example", "1/20"),
            ("$p2.example", "3/20"),
        ],
        4,
    );
}

#[test]
fn tag_routing_and_author_fallback_fit() {
    let rules = SplitRules {
        author_bps: 5000,
        tag_routes: vec![TagRoute {
            tag: Tag::parse("dev").unwrap(),
            pool: PoolName::parse("dev").unwrap(),
        }],
        ..SplitRules::default()
    };
    let snapshot = community(rules);
    let topic = TopicId::parse("2").unwrap();
    // The author has no wallet, so all of it goes to the dev pool the tag routes to.
    let observed = check(
        &snapshot,
        PickContext::Topic(&topic),
        &[("$core1.example", "2/3"), ("$core2.example", "1/3")],
        5,
    );
    let as_if_default: Vec<(String, f64)> = vec![
        ("$core1.example".into(), 0.5),
        ("$core2.example".into(), 0.5),
    ];
    assert!(chi_square(&observed, &as_if_default) > critical_value(1));
}
