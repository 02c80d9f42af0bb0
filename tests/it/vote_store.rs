//! The votes store on SQLite and PostgreSQL alike: an intent moves only by compare-and-set, a
//! reading is appended only when it changes the vote, and a closed vote keeps its final
//! documents byte for byte and never changes again.

use crate::common;

use common::TestDb;
use revshare_oracle::domain::{CommunitySlug, Timestamp};
use revshare_oracle::store::{NewVote, ReadingOutcome};
use revshare_oracle::voting::evidence::{Document, raw_of};
use revshare_oracle::voting::lifecycle::Lifecycle;
use revshare_oracle::voting::{
    Ballot, Electorate, Tally, VoteHandle, VoteRequest, VoteState, VoteStatus, Voter,
};

fn request() -> VoteRequest {
    VoteRequest {
        title: "Add Ann?".into(),
        details: "Ann maintains the docs.".into(),
        options: vec!["Yes".into(), "No".into()],
        closes_at: Some(Timestamp(2_000_000)),
        electorate: Electorate::default(),
    }
}

fn ballot(user: &str, choice: &str) -> Ballot {
    Ballot {
        voter: Voter {
            platform: "loomio".into(),
            user_id: user.into(),
            username: format!("user{user}"),
        },
        choices: vec![choice.into()],
        cast_at: Some(Timestamp(1_500)),
    }
}

fn status(state: VoteState, yes: u64, ballots: Vec<Ballot>, body: &str) -> VoteStatus {
    VoteStatus {
        state,
        tallies: vec![
            Tally {
                option: "Yes".into(),
                votes: yes,
            },
            Tally {
                option: "No".into(),
                votes: 0,
            },
        ],
        ballots,
        raw: raw_of(vec![Document {
            source: "GET /api/b2/polls/8".into(),
            body: body.into(),
        }]),
    }
}

async fn a_vote_moves_by_compare_and_set_and_keeps_its_evidence(db: TestDb) {
    let store = db.store.clone();
    let community = store
        .create_community(
            &CommunitySlug::parse("coop").unwrap(),
            "Co-op",
            Timestamp(1),
        )
        .await
        .unwrap();
    let vote = store
        .insert_vote(&NewVote {
            community_id: community.id,
            backend: "loomio",
            intent_key: "0123456789abcdef",
            request: &request(),
            at: Timestamp(10),
            next_attempt_at: Timestamp(100),
        })
        .await
        .unwrap();
    assert_eq!((vote.state, vote.attempts), (Lifecycle::Starting, 0));
    assert_eq!(vote.request, request());
    assert!(store.due_votes(Timestamp(99), 10).await.unwrap().is_empty());
    assert_eq!(store.due_votes(Timestamp(100), 10).await.unwrap().len(), 1);
    assert_eq!(store.next_vote_due().await.unwrap(), Some(Timestamp(100)));

    assert!(
        store
            .record_failed_attempt(
                vote.id,
                Lifecycle::Starting,
                "down",
                Timestamp(200),
                Timestamp(20)
            )
            .await
            .unwrap()
    );
    let handle = VoteHandle {
        backend: "loomio".into(),
        external_id: "8".into(),
        url: Some("https://loomio.example/p/k".into()),
    };
    assert!(
        store
            .mark_started(vote.id, &handle, Timestamp(30), Timestamp(30))
            .await
            .unwrap()
    );
    assert!(
        !store
            .mark_started(vote.id, &handle, Timestamp(31), Timestamp(31))
            .await
            .unwrap(),
        "only a starting vote starts"
    );
    assert!(
        !store.mark_cancelled(vote.id, Timestamp(32)).await.unwrap(),
        "an open vote is not cancelled"
    );
    let open = store.vote(community.id, vote.id).await.unwrap().unwrap();
    assert_eq!(open.state, Lifecycle::Open);
    assert_eq!((open.attempts, open.last_error), (2, None));
    assert_eq!(
        store
            .live_votes(community.id, "loomio")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        store
            .vote(community.id + 1, vote.id)
            .await
            .unwrap()
            .is_none(),
        "votes are per community"
    );

    let first = status(VoteState::Open, 0, vec![], "{\"n\":1}");
    assert!(matches!(
        store
            .record_reading(vote.id, &first, Timestamp(40), Timestamp(100))
            .await
            .unwrap(),
        ReadingOutcome::Appended { .. }
    ));
    assert_eq!(
        store
            .record_reading(vote.id, &first, Timestamp(50), Timestamp(110))
            .await
            .unwrap(),
        ReadingOutcome::Unchanged
    );
    let two = status(
        VoteState::Open,
        2,
        vec![ballot("2", "Yes"), ballot("1", "Yes")],
        "{\"n\":2}",
    );
    assert!(matches!(
        store
            .record_reading(vote.id, &two, Timestamp(60), Timestamp(120))
            .await
            .unwrap(),
        ReadingOutcome::Appended { .. }
    ));
    let reordered = status(
        VoteState::Open,
        2,
        vec![ballot("1", "Yes"), ballot("2", "Yes")],
        "{\"n\":3}",
    );
    assert_eq!(
        store
            .record_reading(vote.id, &reordered, Timestamp(70), Timestamp(130))
            .await
            .unwrap(),
        ReadingOutcome::Unchanged,
        "the order Loomio lists ballots in is no change"
    );
    let read = store.vote(community.id, vote.id).await.unwrap().unwrap();
    assert_eq!(
        (read.last_read_at, read.next_read_at),
        (Some(Timestamp(70)), Some(Timestamp(130)))
    );

    assert!(
        store
            .mark_closing(vote.id, true, None, Timestamp(80), Timestamp(80))
            .await
            .unwrap()
    );
    let body = "{\"polls\":[{\"id\":8,\"closed_at\":\"2026-10-01T12:00:00.000Z\",\"score\":1.50}]}";
    let closed = status(
        VoteState::Closed {
            closed_at: Some(Timestamp(90)),
        },
        2,
        vec![ballot("1", "Yes"), ballot("2", "Yes")],
        body,
    );
    let ReadingOutcome::Closed { reading } = store
        .record_reading(vote.id, &closed, Timestamp(95), Timestamp(150))
        .await
        .unwrap()
    else {
        panic!("the vote closes");
    };
    let evidence = store.vote_evidence(vote.id).await.unwrap();
    assert_eq!(evidence.len(), 1);
    assert_eq!(evidence[0].body, body, "byte for byte");
    assert_eq!(evidence[0].reading_id, reading);
    let readings = store.vote_readings(vote.id).await.unwrap();
    assert_eq!(readings.len(), 3);
    assert_eq!(
        readings[2].state,
        VoteState::Closed {
            closed_at: Some(Timestamp(90))
        }
    );
    assert_eq!(
        store.latest_reading(vote.id).await.unwrap().unwrap().id,
        reading
    );
    let final_vote = store.vote(community.id, vote.id).await.unwrap().unwrap();
    assert_eq!(final_vote.state, Lifecycle::Closed);
    assert_eq!(final_vote.closed_at, Some(Timestamp(90)));

    assert_eq!(
        store
            .record_reading(vote.id, &first, Timestamp(99), Timestamp(160))
            .await
            .unwrap(),
        ReadingOutcome::Stale,
        "a closed vote takes no more readings"
    );
    assert!(!store.mark_close_sent(vote.id, Timestamp(99)).await.unwrap());
    assert!(
        !store
            .record_failed_read(vote.id, "late", Timestamp(200), Timestamp(99))
            .await
            .unwrap()
    );
    assert_eq!(store.vote_readings(vote.id).await.unwrap().len(), 3);
    assert_eq!(
        store.next_vote_due().await.unwrap(),
        None,
        "nothing left to do"
    );
}

on_both_databases!(a_vote_moves_by_compare_and_set_and_keeps_its_evidence);
