//! Loomio's ballots as Loomio really answers them, against the fake that behaves as its source
//! does: `results[].voter_ids` stops at 50 an option while `voter_scores` names every voter, a
//! vote joins its thread only with a reason, a proposal keeps its options as translated words
//! with the key as icon (or, in the legacy `i18n` format, as the key), a group's poll template
//! can make polls anonymous or hide their results, and polls are found page by page.

use crate::ballot_fixtures;
use crate::support;

use ballot_fixtures::{
    LOOMIO_KEY, decided, facts_of, loomio_backend, loomio_client, read_vote, request,
};
use revshare_oracle::audit::check_ballots;
use revshare_oracle::policy::{Evidence, Outcome};
use revshare_oracle::sources::loomio::{NewPoll, PollType, documented_vote};
use revshare_oracle::voting::intent::IntentMarker;
use revshare_oracle::voting::{VoteRequest, VotingBackend, VotingError};
use support::loomio::{FakeLoomio, PollTemplate};

fn poll_id(handle: &revshare_oracle::voting::VoteHandle) -> u64 {
    handle.external_id.parse().unwrap()
}

#[tokio::test]
async fn a_vote_with_120_voters_on_one_option_is_decided_on_every_ballot_and_audited() {
    let fake = FakeLoomio::start(LOOMIO_KEY).await;
    let backend = loomio_backend(&fake);
    let handle = backend.start(&request(Some(3))).await.unwrap();
    let poll = poll_id(&handle);
    let voters = fake.add_members(120);
    for voter in &voters {
        fake.vote(poll, voter, &["approve"]);
    }
    fake.vote_with_reason(
        poll,
        &fake.members[1],
        &["approve"],
        Some("Ann wrote the docs."),
    );

    let shown = loomio_client(&fake)
        .poll(&handle.external_id)
        .await
        .unwrap();
    let results = shown.value.results.unwrap();
    assert_eq!(results[0].voter_count, 121);
    assert_eq!(
        results[0].voter_ids.len(),
        50,
        "Loomio names 50 voters by id, as its source does"
    );
    let thread = loomio_client(&fake)
        .thread_stances(shown.value.topic_id.unwrap())
        .await
        .unwrap()
        .value;
    assert_eq!(
        thread.stances.len(),
        1,
        "only the vote with a reason joins the thread"
    );

    let status = backend.status(&handle.external_id).await.unwrap();
    assert_eq!(status.tallies[0].option, "approve");
    assert_eq!(status.tallies[0].votes, 121);
    assert_eq!(
        status.ballots.len(),
        121,
        "every ballot, not the 50 Loomio names by id"
    );
    assert!(status.ballots.iter().all(|b| b.choices == ["approve"]));
    let usernames: Vec<&str> = status
        .ballots
        .iter()
        .map(|b| b.voter.username.as_str())
        .collect();
    assert!(usernames.contains(&"member119") && usernames.contains(&"bob"));
    let sources: Vec<&str> = status.raw["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["source"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources
            .iter()
            .filter(|s| s.starts_with("GET /api/b2/memberships"))
            .count(),
        2,
        "the group's 125 members, read in pages of 100: {sources:?}"
    );

    let documented = documented_vote(&status.raw, &handle.external_id).unwrap();
    assert_eq!(
        documented.ballots, status.ballots,
        "the auditor reads the same 121 ballots"
    );

    let vote = read_vote(fake, handle, facts_of(status));
    let evidence = decided(&vote, vote.facts.clone());
    assert_eq!(evidence.decision.outcome, Outcome::Passed);
    let served = Evidence::verify(&evidence.to_bytes()).unwrap().0;
    assert_eq!(served.facts.as_ref().unwrap().ballots.len(), 121);
    assert_eq!(check_ballots(&served), Ok(true));
    let mut dropped = vote.facts.clone();
    dropped.ballots.pop();
    dropped.voters.pop();
    let forged = Evidence::verify(&decided(&vote, dropped).to_bytes())
        .unwrap()
        .0;
    assert!(
        check_ballots(&forged).is_err(),
        "a ballot missing among 121 is caught"
    );
}

fn proposal_request() -> VoteRequest {
    VoteRequest {
        options: ["agree", "abstain", "disagree", "block"]
            .into_iter()
            .map(String::from)
            .collect(),
        ..request(Some(3))
    }
}

#[tokio::test]
async fn a_proposal_is_read_under_the_option_names_it_asked_for() {
    for legacy in [false, true] {
        let fake = FakeLoomio::start(LOOMIO_KEY).await;
        if legacy {
            fake.use_legacy_option_names();
        }
        let backend = loomio_backend(&fake);
        let handle = backend.start(&proposal_request()).await.unwrap();
        let poll = fake.poll(poll_id(&handle));
        let stored: Vec<&str> = poll.options.iter().map(|o| o.name.as_str()).collect();
        let (agree, disagree) = if legacy {
            assert_eq!(stored, ["agree", "abstain", "disagree", "block"]);
            ("agree", "disagree")
        } else {
            assert_eq!(
                stored,
                ["Agree", "Abstain", "Disagree", "Block"],
                "translated"
            );
            ("Agree", "Disagree")
        };
        fake.vote(poll.id, &fake.members[0], &[agree]);
        fake.vote(poll.id, &fake.members[1], &[disagree]);
        let status = backend.status(&handle.external_id).await.unwrap();
        let tallies: Vec<(&str, u64)> = status
            .tallies
            .iter()
            .map(|t| (t.option.as_str(), t.votes))
            .collect();
        assert_eq!(
            tallies,
            [("agree", 1), ("abstain", 0), ("disagree", 1), ("block", 0)],
            "legacy names: {legacy}"
        );
        assert_eq!(status.ballots[0].choices, ["agree"]);
        assert_eq!(status.ballots[1].choices, ["disagree"]);
    }
}

#[tokio::test]
async fn a_poll_whose_ballots_cannot_be_read_is_refused_at_start() {
    let templates = [
        (
            PollTemplate {
                anonymous: true,
                hide_results: None,
            },
            "anonymous",
        ),
        (
            PollTemplate {
                anonymous: false,
                hide_results: Some("until_closed"),
            },
            "until it closes",
        ),
    ];
    for (template, reason) in templates {
        let fake = FakeLoomio::start(LOOMIO_KEY).await;
        fake.use_template(template);
        let refused = loomio_backend(&fake).start(&request(Some(3))).await;
        match refused {
            Err(VotingError::Refused { detail, .. }) => {
                assert!(detail.contains(reason), "{detail}");
            }
            other => panic!("refused because {reason}, not {other:?}"),
        }
    }
}

#[tokio::test]
async fn opening_a_poll_invites_and_tells_the_group() {
    let fake = FakeLoomio::start(LOOMIO_KEY).await;
    let handle = loomio_backend(&fake)
        .start(&request(Some(3)))
        .await
        .unwrap();
    let mut told = fake.announced(poll_id(&handle));
    told.sort_unstable();
    let members: Vec<u64> = fake.members.iter().map(|m| m.id).collect();
    assert_eq!(told, members, "every member but the bot that opened it");
}

#[tokio::test]
async fn a_retried_start_finds_its_poll_behind_fifty_newer_ones() {
    let fake = FakeLoomio::start(LOOMIO_KEY).await;
    let backend = loomio_backend(&fake);
    let mut asked = request(Some(3));
    asked.details = IntentMarker::new("forum", 7, "0123456789abcdef").append_to(&asked.details);
    let first = backend.start(&asked).await.unwrap();
    let client = loomio_client(&fake);
    let options = vec!["approve".to_string(), "disapprove".to_string()];
    for n in 0..60 {
        let title = format!("Another vote {n}");
        let other = NewPoll {
            group_id: fake.group_id,
            title: &title,
            details: "",
            poll_type: PollType::for_options(&options),
            options: &options,
            closing_at: asked.closes_at.unwrap(),
        };
        client.create_poll(&other, None).await.unwrap();
    }
    let again = backend.start(&asked).await.unwrap();
    assert_eq!(
        again.external_id, first.external_id,
        "found on the second page"
    );
    assert_eq!(fake.polls().len(), 61, "no second poll");
}
