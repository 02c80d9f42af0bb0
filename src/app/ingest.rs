//! Applying stored webhook deliveries to the member registry and the topic facts, in arrival
//! order, each exactly once, then refreshing the changed communities' snapshots (the ingest
//! worker runs [`Ingest::drain`] whenever a handler rings it).
//!
//! Exactly once: the handler stores a delivery before answering; the worker applies a delivery's
//! effects and marks it processed in one transaction ([`crate::store::DeliveryTx`]). A crash
//! before the commit leaves the delivery unprocessed and its effects unwritten, so it is applied
//! from scratch on restart; after the commit it is never applied again (the claim skips it, and a
//! trigger refuses a second mark). The effects are decided against the registry as it is inside
//! that transaction, so even a platform that resends an event under a new id changes nothing twice.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use tokio::sync::Mutex;

use super::{AppError, Changes, Doorbell};
use crate::clock::Clock;
use crate::config::IngestConfig;
use crate::domain::{MemberId, PlatformUser, Timestamp};
use crate::sources::discourse::{
    self, Event, MemberPlan, TopicRecord, TopicUpdate, parse_event, plan_member, plan_topic,
    topic_id,
};
use crate::sources::loomio;
use crate::store::{DeliveryTx, PendingDelivery, Store, StoreError};

/// Applying stored webhook deliveries: what it reads, changes and wakes.
#[derive(Clone)]
pub struct Ingest {
    store: Store,
    changes: Changes,
    clock: Clock,
    batch_size: u32,
    /// Rung by the webhook handlers after each stored delivery.
    doorbell: Doorbell,
    /// Rung after a member changed: they may have a new wallet for the policy to act on.
    scheduler: Doorbell,
    /// One pass at a time: the worker's and any caller of [`Ingest::drain`].
    pass: Arc<Mutex<()>>,
}

impl Ingest {
    /// The ingest of one service.
    pub fn new(
        store: Store,
        changes: Changes,
        clock: Clock,
        config: &IngestConfig,
        doorbell: Doorbell,
        scheduler: Doorbell,
    ) -> Self {
        Ingest {
            store,
            changes,
            clock,
            batch_size: config.batch_size.max(1),
            doorbell,
            scheduler,
            pass: Arc::default(),
        }
    }

    /// The doorbell the webhook handlers ring and the worker waits on.
    pub fn doorbell(&self) -> &Doorbell {
        &self.doorbell
    }

    /// Applies every delivery stored before the call, in arrival order; returns how many it
    /// applied. Waits for a pass in progress to finish first, so after it returns nothing stored
    /// earlier is left (tests call it to wait for the worker without a clock).
    pub async fn drain(&self) -> Result<usize, AppError> {
        let _pass = self.pass.lock().await;
        let batch = i64::from(self.batch_size);
        let mut applied = 0;
        loop {
            let pending = self.store.pending_deliveries(batch).await?;
            if pending.is_empty() {
                return Ok(applied);
            }
            let mut field_ids: HashMap<i64, Option<String>> = HashMap::new();
            let mut changed = BTreeSet::new();
            let mut result = Ok(());
            for delivery in &pending {
                if self.doorbell.is_stopping() {
                    break;
                }
                let field_id = match field_ids.get(&delivery.community_id) {
                    Some(id) => id.clone(),
                    None => {
                        let id = self
                            .store
                            .discourse_source(delivery.community_id)
                            .await?
                            .map(|s| s.wallet_field_id);
                        field_ids.insert(delivery.community_id, id.clone());
                        id
                    }
                };
                match self.apply(delivery, field_id.as_deref()).await {
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
            for id in &changed {
                self.changes.refresh_id(*id).await?;
            }
            if !changed.is_empty() {
                // A changed member may have a new wallet: the policy scheduler looks at once.
                self.scheduler.ring();
            }
            result?;
            if self.doorbell.is_stopping() {
                return Ok(applied);
            }
        }
    }

    /// Applies one delivery; `None` when another pass applied it first, else whether the
    /// registry or the topic facts changed.
    async fn apply(
        &self,
        delivery: &PendingDelivery,
        wallet_field_id: Option<&str>,
    ) -> Result<Option<bool>, StoreError> {
        let Some(mut tx) = self.store.begin_delivery(delivery).await? else {
            return Ok(None);
        };
        let at = self.clock.now();
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
    plan: TopicUpdate,
    at: Timestamp,
) -> Result<(String, bool), StoreError> {
    match plan {
        TopicUpdate::Save {
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
        TopicUpdate::Unchanged => Ok(("topic unchanged".into(), false)),
        TopicUpdate::Skip(reason) => Ok((format!("skipped: {reason}"), false)),
    }
}
