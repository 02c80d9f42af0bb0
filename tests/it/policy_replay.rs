//! Replaying event logs: the constitution decides policy changes, a change never reaches a vote
//! already running, pools follow the decisions, and replay is deterministic whatever the arrival
//! order of simultaneous facts (wallet changes that supersede running votes among them).

use proptest::prelude::*;
use revshare_oracle::domain::{CommunitySlug, MemberId, PoolName, Timestamp};
use revshare_oracle::policy::{
    Event, Fact, GRANT_REPORT_POLICY, Happening, Outcome, Replayed, default_policies, parse_events,
    replay,
};

const HOUR: i64 = 3_600_000;
const T0: i64 = 1_767_225_600_000;

fn member(name: &str) -> MemberId {
    MemberId::parse(name).unwrap()
}

fn run(events: &[Event]) -> Replayed {
    replay(
        CommunitySlug::parse("forum").unwrap(),
        default_policies(),
        events,
    )
    .unwrap()
}

struct Log(Vec<Event>);

impl Log {
    fn at(&mut self, hours: i64, fact: Fact) -> &mut Self {
        let line = self.0.len() + 1;
        self.0.push(Event {
            at: Timestamp(T0 + hours * HOUR),
            fact,
            line,
        });
        self
    }
    fn wallet(&mut self, hours: i64, who: &str, wallet: Option<&str>) -> &mut Self {
        self.at(
            hours,
            Fact::Wallet {
                member: member(who),
                wallet: wallet.map(str::to_string),
            },
        )
    }
    fn level(&mut self, hours: i64, who: &str, level: u8) -> &mut Self {
        self.at(
            hours,
            Fact::TrustLevel {
                member: member(who),
                level,
            },
        )
    }
    fn ballot(&mut self, hours: i64, proposal: u64, who: &str, choice: &str) -> &mut Self {
        self.at(
            hours,
            Fact::Ballot {
                proposal,
                member: member(who),
                choices: vec![choice.to_string()],
            },
        )
    }
}

/// (proposal, policy version, outcome) of each decision, in order.
fn decisions(replayed: &Replayed) -> Vec<(u64, u64, Outcome, String)> {
    replayed
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::Decided {
                proposal,
                policy_version,
                decision,
                reason,
                ..
            } => Some((*proposal, *policy_version, decision.outcome, reason.clone())),
            _ => None,
        })
        .collect()
}

fn default_pool(replayed: &Replayed) -> Vec<String> {
    replayed
        .pools
        .get(&PoolName::parse("default").unwrap())
        .map(|pool| {
            pool.entries()
                .iter()
                .map(|e| format!("{}×{}", e.wallet.payment_pointer(), e.weight.get()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_wallet_flow_adds_fails_and_removes() {
    let mut log = Log(Vec::new());
    log.level(0, "tess", 3)
        .wallet(0, "ann", Some("$wallet.example/ann"))
        .wallet(0, "bob", Some("$wallet.example/bob"))
        .ballot(1, 1, "tess", "approve")
        .ballot(2, 2, "tess", "disapprove")
        .wallet(5, "ann", None);
    let replayed = run(&log.0);
    assert_eq!(
        decisions(&replayed),
        [
            (
                1,
                1,
                Outcome::Passed,
                "closed by `tl3-approval`, passed by `tl3-approved`".into()
            ),
            (
                2,
                1,
                Outcome::Failed,
                "closed by `tl3-disapproval`, failed by `tl3-disapproved`".into()
            ),
            (
                3,
                1,
                Outcome::Passed,
                "passed by rule `wallet-removed` without a vote".into()
            ),
        ]
    );
    assert!(default_pool(&replayed).is_empty(), "{:?}", replayed.pools);
    let opened = replayed
        .happenings
        .iter()
        .filter(|h| matches!(h, Happening::Opened { .. }))
        .count();
    assert_eq!(opened, 2);
}

#[test]
fn a_policy_change_is_decided_by_the_constitution_and_never_reaches_a_running_vote() {
    let two_votes = GRANT_REPORT_POLICY.replace("when = \"total >= 5\"", "when = \"total >= 2\"");
    let mut log = Log(Vec::new());
    for steward in ["s1", "s2", "s3"] {
        log.level(0, steward, 4);
    }
    log.wallet(0, "ann", Some("$wallet.example/ann"))
        .at(1, Fact::ProposePolicy { source: two_votes })
        .ballot(2, 2, "s1", "approve")
        .ballot(2, 2, "s2", "approve")
        .ballot(2, 2, "s3", "approve")
        .ballot(3, 1, "v1", "approve")
        .ballot(3, 1, "v2", "approve")
        .wallet(3, "bob", Some("$wallet.example/bob"))
        .ballot(4, 3, "v1", "approve")
        .ballot(4, 3, "v2", "approve")
        .at(24, Fact::Tick {});
    let replayed = run(&log.0);
    assert_eq!(
        decisions(&replayed),
        [
            (
                2,
                2,
                Outcome::Passed,
                "closed by `tl4-consensus`, passed by `tl4-consensus-approved`".into()
            ),
            (
                3,
                3,
                Outcome::Passed,
                "closed by `five-votes`, passed by `majority-approved`".into()
            ),
            (
                1,
                1,
                Outcome::Passed,
                "closed by `day-passed`, passed by `majority-approved`".into()
            ),
        ],
        "ann's vote, running when version 3 was adopted, still needed five votes (version 1)"
    );
    assert_eq!(replayed.policies.versions().len(), 3);
    assert_eq!(
        replayed
            .policies
            .for_trigger(revshare_oracle::policy::TriggerKind::WalletAdded)
            .unwrap()
            .version,
        3
    );
    assert_eq!(
        default_pool(&replayed),
        ["$wallet.example/bob×1", "$wallet.example/ann×1"]
    );
}

#[test]
fn a_refused_policy_proposal_opens_nothing_and_changes_nothing() {
    let mut log = Log(Vec::new());
    log.at(
        0,
        Fact::ProposePolicy {
            source: GRANT_REPORT_POLICY.replace("total >= 5", "total >= "),
        },
    );
    let replayed = run(&log.0);
    let [
        Happening::Refused {
            line: Some(1),
            reason,
            ..
        },
    ] = &replayed.happenings[..]
    else {
        panic!("{:?}", replayed.happenings)
    };
    assert!(
        reason.contains("vote.close `five-votes`: `total >= ` at column 10"),
        "{reason}"
    );
    assert_eq!(replayed.policies.versions().len(), 2);
}

#[test]
fn event_logs_are_read_with_clear_errors() {
    let text = r#"
# a comment
{"at":"2026-01-01T00:00:00Z","fact":"trust_level","member":"tess","level":3}
{"at":"2026-01-01T00:00:00Z","fact":"wallet","member":"ann","wallet":"$wallet.example/ann"}
{"at":"2026-01-01T01:00:00Z","fact":"ballot","proposal":1,"member":"tess","choices":["approve"]}
"#;
    let events = parse_events(text).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].line, 5);
    assert_eq!(default_pool(&run(&events)), ["$wallet.example/ann×1"]);

    let late = "{\"at\":\"2026-01-02T00:00:00Z\",\"fact\":\"tick\"}\n{\"at\":\"2026-01-01T00:00:00Z\",\"fact\":\"tick\"}";
    let err = parse_events(late).unwrap_err();
    assert_eq!(err.line, 2);
    assert!(err.message.contains("must be in time order"), "{err}");
    let err = parse_events("{\"at\":\"2026-01-01T00:00:00Z\",\"fact\":\"vote\"}").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("event log line 1: unknown variant `vote`"),
        "{err}"
    );
    let err = parse_events("{\"fact\":\"tick\"}").unwrap_err();
    assert!(err.message.contains("`at`"), "{err}");
    let orphan = parse_events("{\"at\":\"2026-01-01T00:00:00Z\",\"fact\":\"ballot\",\"proposal\":4,\"member\":\"x\",\"choices\":[\"approve\"]}").unwrap();
    let err = replay(
        CommunitySlug::parse("forum").unwrap(),
        default_policies(),
        &orphan,
    )
    .unwrap_err();
    assert_eq!(err.to_string(), "event log line 1: there is no proposal 4");
}

/// One generated fact of a batch: a ballot, a withdrawal or a trust-level change by a voter, or
/// a proposal's member clearing or replacing their wallet (which supersedes its vote).
#[derive(Clone, Debug)]
enum Generated {
    Ballot(u64, bool),
    Withdraw(u64),
    Level(u8),
    Rewallet(u64, bool),
}

fn log_from(proposals: usize, batches: &[Vec<(usize, Generated)>]) -> Vec<Event> {
    let mut log = Log(Vec::new());
    for p in 0..proposals {
        log.wallet(0, &format!("m{p}"), Some(&format!("$wallet.example/m{p}")));
    }
    for (i, batch) in batches.iter().enumerate() {
        let hours = 1 + 3 * i as i64;
        for (voter, fact) in batch {
            let who = format!("v{voter}");
            match fact {
                Generated::Ballot(p, yes) => {
                    log.ballot(hours, *p, &who, if *yes { "approve" } else { "disapprove" });
                }
                Generated::Withdraw(p) => {
                    log.at(
                        hours,
                        Fact::Withdraw {
                            proposal: *p,
                            member: member(&who),
                        },
                    );
                }
                Generated::Level(level) => {
                    log.level(hours, &who, *level);
                }
                Generated::Rewallet(p, clear) => {
                    let wallet = format!("$wallet.example/m{p}-{hours}");
                    let wallet = (!clear).then_some(wallet.as_str());
                    log.wallet(hours, &format!("m{}", p - 1), wallet);
                }
            }
        }
    }
    log.0
}

fn batches(proposals: u64) -> impl Strategy<Value = Vec<Vec<(usize, Generated)>>> {
    let fact = prop_oneof![
        (1..=proposals, any::<bool>()).prop_map(|(p, yes)| Generated::Ballot(p, yes)),
        (1..=proposals).prop_map(Generated::Withdraw),
        (0u8..=4).prop_map(Generated::Level),
        (1..=proposals, any::<bool>()).prop_map(|(p, clear)| Generated::Rewallet(p, clear)),
    ];
    // Within a batch each voter appears once, so its facts are independent of one another.
    let batch = prop::collection::btree_map(0usize..8, fact, 0..6)
        .prop_map(|m| m.into_iter().collect::<Vec<_>>());
    prop::collection::vec(batch, 0..10)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn replay_is_deterministic_and_ignores_the_arrival_order_of_simultaneous_facts(
        (proposals, batches, seed) in (1u64..4).prop_flat_map(|p| (Just(p), batches(p), any::<u64>())),
    ) {
        let events = log_from(proposals as usize, &batches);
        let first = run(&events);
        prop_assert_eq!(&first, &run(&events));

        let mut shuffled = events.clone();
        let mut state = seed | 1;
        for group in shuffled.chunk_by_mut(|a, b| a.at == b.at) {
            for i in (1..group.len()).rev() {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17;
                group.swap(i, (state % (i as u64 + 1)) as usize);
            }
        }
        let again = run(&shuffled);
        prop_assert_eq!(decisions(&first), decisions(&again));
        prop_assert_eq!(&first.happenings, &again.happenings);
        prop_assert_eq!(&first.pools, &again.pools);
        let wallets = default_pool(&first).len();
        prop_assert!(wallets <= proposals as usize);
    }
}

#[test]
fn an_admin_request_is_put_to_the_constitution_vote() {
    let text = r#"
{"at":"2026-01-01T00:00:00Z","fact":"trust_level","member":"s1","level":4}
{"at":"2026-01-01T00:00:00Z","fact":"trust_level","member":"s2","level":4}
{"at":"2026-01-01T00:00:00Z","fact":"trust_level","member":"s3","level":4}
{"at":"2026-01-01T00:00:00Z","fact":"admin_request","note":"Authors keep half.","change":{"change":"set_split","rules":{"author_bps":5000}}}
{"at":"2026-01-01T00:00:00Z","fact":"admin_request","note":"Fund the docs team.","change":{"change":"add_entry","pool":"default","entry":{"wallet":"$docs.example","weight":3}}}
{"at":"2026-01-01T05:00:00Z","fact":"ballot","proposal":1,"member":"s1","choices":["approve"]}
{"at":"2026-01-01T05:00:00Z","fact":"ballot","proposal":1,"member":"s2","choices":["approve"]}
{"at":"2026-01-01T05:00:00Z","fact":"ballot","proposal":1,"member":"s3","choices":["approve"]}
{"at":"2026-01-01T05:00:00Z","fact":"ballot","proposal":2,"member":"s1","choices":["approve"]}
{"at":"2026-01-01T05:00:00Z","fact":"ballot","proposal":2,"member":"s2","choices":["approve"]}
{"at":"2026-01-01T05:00:00Z","fact":"ballot","proposal":2,"member":"s3","choices":["disapprove"]}
{"at":"2026-01-04T00:00:00Z","fact":"tick"}
"#;
    let replayed = run(&parse_events(text).unwrap());
    let titles: Vec<_> = replayed
        .happenings
        .iter()
        .filter_map(|h| match h {
            Happening::Opened { title, .. } => Some(title.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        titles,
        [
            "Admin request: set the split to 5000 bps for authors, 0 bps for participants, default pool default",
            "Admin request: add $docs.example to pool default with weight 3",
        ],
        "simultaneous facts open in canonical order"
    );
    assert_eq!(
        decisions(&replayed),
        [
            (
                1,
                2,
                Outcome::Passed,
                "closed by `tl4-consensus`, passed by `tl4-consensus-approved`".into()
            ),
            (
                2,
                2,
                Outcome::Passed,
                "closed by `three-days-passed`, passed by `two-thirds-approved`".into()
            ),
        ]
    );
    assert_eq!(default_pool(&replayed), ["$docs.example×3"]);
    assert_eq!(replayed.split.as_ref().map(|s| s.author_bps), Some(5000));
}
