//! The ingest worker: applies stored webhook deliveries to the member registry and the topic
//! facts, in arrival order, each exactly once, then refreshes the changed communities' snapshots.
//!
//! Exactly once: the handler stores a delivery before answering; the worker applies a delivery's
//! effects and marks it processed in one transaction ([`crate::store::DeliveryTx`]). A crash
//! before the commit leaves the delivery unprocessed and its effects unwritten, so it is applied
//! from scratch on restart; after the commit it is never applied again (the claim skips it, and a
//! trigger refuses a second mark). The effects are decided against the registry as it is inside
//! that transaction, so even a platform that resends an event under a new id changes nothing twice.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use tokio::sync::Mutex;

use super::worker::WorkerControls;

use crate::domain::{MemberId, PlatformUser, Timestamp};
use crate::http::AppState;
use crate::sources::discourse::{
    self, Event, MemberPlan, TopicPlan, TopicRecord, parse_event, plan_member, plan_topic, topic_id,
};
use crate::sources::loomio;
use crate::store::{CommunityRow, DeliveryTx, PendingDelivery, StoreError};

/// How long the worker waits after a database error before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The worker's controls, shared with the handlers that wake it.
#[derive(Default)]
pub struct Ingest {
    controls: WorkerControls,
    /// One pass at a time: the worker's and any caller of [`drain`].
    pass: Mutex<()>,
}

impl Ingest {
    /// Asks the worker to look for new deliveries (a wake-up is never lost).
    pub fn wake(&self) {
        self.controls.wake();
    }

    /// Stops the worker after the delivery it is applying, and waits for it.
    pub async fn stop(&self) {
        self.controls.stop().await;
    }
}

/// Starts the worker on the current runtime; it first applies whatever was stored and not yet
/// applied (after a crash, say), then waits to be woken.
pub fn start_worker(state: AppState) {
    let ingest = state.ingest.clone();
    let handle = tokio::spawn(async move {
        let mut caught_up = false;
        while !state.ingest.controls.is_stopping() {
            match drain(&state).await {
                Ok(applied) if !caught_up => {
                    caught_up = true;
                    tracing::info!(applied, "ingest worker caught up with stored deliveries");
                }
                Ok(applied) => tracing::debug!(applied, "webhook deliveries applied"),
                Err(e) => {
                    tracing::error!(error = %e, "applying webhook deliveries failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(RETRY_AFTER) => {},
                        () = state.ingest.controls.woken() => {},
                    }
                    continue;
                }
            }
            state.ingest.controls.woken().await;
        }
    });
    ingest.controls.hold(handle);
}

/// Applies every delivery stored before the call, in arrival order; returns how many it applied.
/// Waits for a pass in progress to finish first, so after it returns nothing stored earlier is
/// left (tests call it to wait for the worker without a clock).
pub async fn drain(state: &AppState) -> Result<usize, StoreError> {
    let _pass = state.ingest.pass.lock().await;
    let batch = i64::from(state.config.ingest.batch_size.max(1));
    let mut applied = 0;
    loop {
        let pending = state.store.pending_deliveries(batch).await?;
        if pending.is_empty() {
            return Ok(applied);
        }
        let mut field_ids: HashMap<i64, Option<String>> = HashMap::new();
        let mut changed = BTreeSet::new();
        let mut result = Ok(());
        for delivery in &pending {
            if state.ingest.controls.is_stopping() {
                break;
            }
            let field_id = match field_ids.get(&delivery.community_id) {
                Some(id) => id.clone(),
                None => {
                    let id = state
                        .store
                        .discourse_source(delivery.community_id)
                        .await?
                        .map(|s| s.wallet_field_id);
                    field_ids.insert(delivery.community_id, id.clone());
                    id
                }
            };
            match apply(state, delivery, field_id.as_deref()).await {
                Ok(Some(true)) => {
                    changed.insert(delivery.community_id);
                    applied += 1;
                }
                Ok(Some(false)) => applied += 1,
                Ok(None) => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        refresh(state, &changed).await?;
        if !changed.is_empty() {
            // A changed member may have a new wallet: the policy scheduler looks at once.
            state.scheduler.wake();
        }
        result?;
        if state.ingest.controls.is_stopping() {
            return Ok(applied);
        }
    }
}

async fn refresh(state: &AppState, communities: &BTreeSet<i64>) -> Result<(), StoreError> {
    for id in communities {
        if let Some(live) = state.snapshots.by_id(*id) {
            let row = CommunityRow {
                id: live.id,
                community: live.community.clone(),
            };
            state.snapshots.refresh(&state.store, &row).await?;
            state.metrics.snapshot_swaps.inc();
        }
    }
    Ok(())
}

fn now() -> Timestamp {
    Timestamp(jiff::Timestamp::now().as_millisecond())
}

/// Applies one delivery; `None` when another pass applied it first, else whether the registry
/// or the topic facts changed.
async fn apply(
    state: &AppState,
    delivery: &PendingDelivery,
    wallet_field_id: Option<&str>,
) -> Result<Option<bool>, StoreError> {
    let Some(mut tx) = state.store.begin_delivery(delivery).await? else {
        return Ok(None);
    };
    let at = now();
    let (outcome, changed) = if delivery.platform == loomio::PLATFORM {
        (
            "hint: the community's open Loomio votes are re-read through the API; the body is not read"
                .to_string(),
            false,
        )
    } else if delivery.platform != discourse::PLATFORM {
        (
            format!("ignored: unknown platform `{}`", delivery.platform),
            false,
        )
    } else {
        apply_discourse(&mut tx, delivery, wallet_field_id, at).await?
    };
    tx.finish(&outcome, at).await?;
    tracing::debug!(delivery = delivery.id, event = %delivery.event, outcome, "webhook applied");
    Ok(Some(changed))
}

async fn apply_discourse(
    tx: &mut DeliveryTx,
    delivery: &PendingDelivery,
    wallet_field_id: Option<&str>,
    at: Timestamp,
) -> Result<(String, bool), StoreError> {
    let event = match parse_event(&delivery.event, delivery.body.as_bytes()) {
        Ok(event) => event,
        Err(e) => return Ok((format!("ignored: {e}"), false)),
    };
    match event {
        Event::Ping => Ok(("ping".into(), false)),
        Event::Other(name) => Ok((format!("stored only: `{name}` is not used yet"), false)),
        Event::User(_, user) => {
            let Some(field_id) = wallet_field_id else {
                return Ok((
                    "ignored: the community has no Discourse settings".into(),
                    false,
                ));
            };
            let account = PlatformUser {
                platform: discourse::PLATFORM.into(),
                user_id: user.id.to_string(),
            };
            let by_id = tx.member_by_platform_user(&account).await?;
            let by_name = match MemberId::parse(&user.username) {
                Ok(name) => tx.member_by_name(&name).await?,
                Err(_) => None,
            };
            match plan_member(&user, field_id, by_id.as_ref(), by_name.as_ref()) {
                MemberPlan::Save {
                    replaces,
                    record,
                    wallet_change,
                    notes,
                } => {
                    tx.save_member(replaces.as_ref(), &record, at).await?;
                    let mut outcome = format!("member `{}` saved", record.member);
                    if let Some(change) = wallet_change {
                        tx.record_wallet_change(&record, change.from.as_ref(), at)
                            .await?;
                        outcome.push_str("; wallet changed");
                    }
                    for note in notes {
                        outcome.push_str("; ");
                        outcome.push_str(&note);
                    }
                    Ok((outcome, true))
                }
                MemberPlan::Unchanged => {
                    Ok((format!("member `{}` unchanged", user.username), false))
                }
                MemberPlan::Skip(reason) => Ok((format!("skipped: {reason}"), false)),
            }
        }
        Event::TopicCreated(topic) => {
            let id = topic_id(topic.id);
            let current = current_topic(tx, &id).await?;
            apply_topic(tx, plan_topic(Some(&topic), None, current.as_ref()), at).await
        }
        Event::PostCreated(post) => {
            let id = topic_id(post.topic_id);
            let current = current_topic(tx, &id).await?;
            apply_topic(tx, plan_topic(None, Some(&post), current.as_ref()), at).await
        }
    }
}

async fn current_topic(
    tx: &mut DeliveryTx,
    id: &crate::domain::TopicId,
) -> Result<Option<TopicRecord>, StoreError> {
    Ok(tx
        .topic(id)
        .await?
        .map(|(facts, category)| TopicRecord { facts, category }))
}

async fn apply_topic(
    tx: &mut DeliveryTx,
    plan: TopicPlan,
    at: Timestamp,
) -> Result<(String, bool), StoreError> {
    match plan {
        TopicPlan::Save {
            topic,
            record,
            notes,
        } => {
            tx.put_topic(&topic, &record.facts, record.category.as_deref(), at)
                .await?;
            let mut outcome = format!("topic {topic} saved");
            for note in notes {
                outcome.push_str("; ");
                outcome.push_str(&note);
            }
            Ok((outcome, true))
        }
        TopicPlan::Unchanged => Ok(("topic unchanged".into(), false)),
        TopicPlan::Skip(reason) => Ok((format!("skipped: {reason}"), false)),
    }
}
