//! What an event changes, decided against the registry's current record (never against what a
//! payload claims about the past): a pure function from (event, current record) to changes.
//! Applying the same event twice therefore changes nothing the second time.

use crate::domain::{
    MemberId, MemberRecord, PlatformUser, Tag, TopicFacts, TopicId, WalletAddress,
};

use super::PLATFORM;
use super::payload::{Post, Topic, User};

/// A change of a member's wallet, for the append-only history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WalletChange {
    /// The wallet before.
    pub from: Option<WalletAddress>,
    /// The wallet after.
    pub to: Option<WalletAddress>,
}

/// What a user event does to the member registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberPlan {
    /// Write `record`, replacing the row now named `replaces` (the member's old username) when
    /// there is one; record `wallet_change` when the wallet changed.
    Save {
        /// The current row's name, when the member is known.
        replaces: Option<MemberId>,
        /// The member after the event.
        record: MemberRecord,
        /// The wallet change, if any.
        wallet_change: Option<WalletChange>,
        /// Anything worth keeping in the delivery's outcome (an invalid wallet, a bad group).
        notes: Vec<String>,
    },
    /// The registry already says all this.
    Unchanged,
    /// The event cannot be applied; the reason goes into the delivery's outcome.
    Skip(String),
}

/// Plans a user event (`user_created`, `user_updated`, `user_promoted`).
///
/// `by_user_id` is the registry's record of this Discourse user, `by_name` the record holding the
/// payload's username (often the same). The wallet is read from the custom user field
/// `wallet_field_id`: absent from the payload leaves it as it is; null, empty or invalid clears it
/// (the member no longer states a valid wallet), with the reason noted.
pub fn plan_member(
    user: &User,
    wallet_field_id: &str,
    by_user_id: Option<&MemberRecord>,
    by_name: Option<&MemberRecord>,
) -> MemberPlan {
    let Ok(name) = MemberId::parse(&user.username) else {
        return MemberPlan::Skip(format!(
            "username `{}` cannot be a member id (ASCII letters, digits, `-`, `_`, `.`)",
            user.username.chars().take(64).collect::<String>()
        ));
    };
    let platform_user = PlatformUser {
        platform: PLATFORM.to_string(),
        user_id: user.id.to_string(),
    };
    if let Some(other) = by_name.filter(|r| {
        r.platform_user
            .as_ref()
            .is_some_and(|p| *p != platform_user)
            || by_user_id.is_some_and(|mine| mine.member != r.member)
    }) {
        return MemberPlan::Skip(format!(
            "username `{}` is held by another member record",
            other.member
        ));
    }
    let current = by_user_id.or(by_name);
    let mut notes = Vec::new();
    let wallet = match user
        .user_fields
        .as_ref()
        .and_then(|fields| fields.get(wallet_field_id))
    {
        None => current.and_then(|c| c.wallet.clone()),
        Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => None,
        Some(serde_json::Value::String(s)) => match WalletAddress::parse(s.trim()) {
            Ok(wallet) => Some(wallet),
            Err(e) => {
                notes.push(format!("wallet field is not a valid wallet ({})", e.rule()));
                None
            }
        },
        Some(_) => {
            notes.push("wallet field is not text".to_string());
            None
        }
    };
    let groups = match &user.groups {
        Some(groups) => groups.iter().map(|g| g.name().to_string()).collect(),
        None => current.map(|c| c.groups.clone()).unwrap_or_default(),
    };
    let record = MemberRecord {
        member: name,
        platform_user: Some(platform_user),
        trust_level: user
            .trust_level
            .or_else(|| current.and_then(|c| c.trust_level)),
        groups,
        wallet,
    };
    if current == Some(&record) {
        return MemberPlan::Unchanged;
    }
    let before = current.and_then(|c| c.wallet.clone());
    let wallet_change = (before != record.wallet).then(|| WalletChange {
        from: before,
        to: record.wallet.clone(),
    });
    MemberPlan::Save {
        replaces: current.map(|c| c.member.clone()),
        record,
        wallet_change,
        notes,
    }
}

/// A topic as the registry holds it: the facts selection uses, and its category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicRecord {
    /// Author, participants, tags.
    pub facts: TopicFacts,
    /// The platform's category id.
    pub category: Option<String>,
}

/// What a topic or post event does to the topic facts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicUpdate {
    /// Write the topic's record.
    Save {
        /// The topic.
        topic: TopicId,
        /// Its record after the event.
        record: TopicRecord,
        /// Anything worth keeping in the delivery's outcome.
        notes: Vec<String>,
    },
    /// The record already says all this.
    Unchanged,
    /// The event cannot be applied; the reason goes into the delivery's outcome.
    Skip(String),
}

/// The topic id an event is about.
pub fn topic_id(id: i64) -> TopicId {
    TopicId::parse(&id.to_string()).expect("a decimal number is a valid topic id")
}

fn is_private(archetype: Option<&str>) -> bool {
    archetype == Some("private_message")
}

/// Plans `topic_created` (with `Some(topic)`) or `post_created` (with `post`), against the
/// topic's current record. Private messages are never recorded.
pub fn plan_topic(
    topic: Option<&Topic>,
    post: Option<&Post>,
    current: Option<&TopicRecord>,
) -> TopicUpdate {
    match (topic, post) {
        (Some(topic), _) => plan_topic_created(topic, current),
        (None, Some(post)) => plan_post_created(post, current),
        (None, None) => TopicUpdate::Unchanged,
    }
}

fn plan_topic_created(topic: &Topic, current: Option<&TopicRecord>) -> TopicUpdate {
    if is_private(topic.archetype.as_deref()) {
        return TopicUpdate::Skip("private message".into());
    }
    let Some(created_by) = &topic.created_by else {
        return TopicUpdate::Skip("the topic payload names no author (created_by)".into());
    };
    let Ok(author) = MemberId::parse(&created_by.username) else {
        return TopicUpdate::Skip(format!(
            "author `{}` cannot be a member id",
            created_by.username.chars().take(64).collect::<String>()
        ));
    };
    let mut notes = Vec::new();
    let mut tags = Vec::new();
    for tag in topic.tags.iter().flatten() {
        match Tag::parse(&tag.name().to_lowercase()) {
            Ok(tag) if !tags.contains(&tag) => tags.push(tag),
            Ok(_) => {}
            Err(_) => notes.push(format!(
                "tag `{}` left out (not a valid tag name)",
                tag.name().chars().take(100).collect::<String>()
            )),
        }
    }
    let participants = current
        .map(|c| {
            c.facts
                .participants
                .iter()
                .filter(|p| **p != author)
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let record = TopicRecord {
        facts: TopicFacts {
            author,
            participants,
            tags,
        },
        category: topic
            .category_id
            .map(|c| c.to_string())
            .or_else(|| current.and_then(|c| c.category.clone())),
    };
    save_unless_same(topic_id(topic.id), record, current, notes)
}

fn plan_post_created(post: &Post, current: Option<&TopicRecord>) -> TopicUpdate {
    if is_private(post.topic_archetype.as_deref()) {
        return TopicUpdate::Skip("private message".into());
    }
    let Ok(poster) = MemberId::parse(&post.username) else {
        return TopicUpdate::Skip(format!(
            "poster `{}` cannot be a member id",
            post.username.chars().take(64).collect::<String>()
        ));
    };
    let category = post.category_id.map(|c| c.to_string());
    let record = match current {
        Some(current) => {
            let mut record = current.clone();
            if record.facts.author != poster && !record.facts.participants.contains(&poster) {
                record.facts.participants.push(poster);
            }
            if record.category.is_none() {
                record.category = category;
            }
            record
        }
        // The first post is the topic's opening: its poster is the author.
        None if post.post_number == 1 => TopicRecord {
            facts: TopicFacts {
                author: poster,
                participants: Vec::new(),
                tags: Vec::new(),
            },
            category,
        },
        None => {
            return TopicUpdate::Skip(format!(
                "topic {} is not known yet; its author comes with topic_created",
                post.topic_id
            ));
        }
    };
    save_unless_same(topic_id(post.topic_id), record, current, Vec::new())
}

fn save_unless_same(
    topic: TopicId,
    record: TopicRecord,
    current: Option<&TopicRecord>,
    notes: Vec<String>,
) -> TopicUpdate {
    if current == Some(&record) {
        TopicUpdate::Unchanged
    } else {
        TopicUpdate::Save {
            topic,
            record,
            notes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::payload::{BasicUser, GroupRef, TagRef};
    use super::*;

    fn user(fields: Option<serde_json::Value>) -> User {
        User {
            id: 7,
            username: "ann".into(),
            trust_level: Some(1),
            groups: Some(vec![GroupRef::Name("team".into())]),
            user_fields: fields.map(|f| serde_json::from_value(f).unwrap()),
        }
    }

    fn saved(plan: MemberPlan) -> (MemberRecord, Option<WalletChange>, Vec<String>) {
        match plan {
            MemberPlan::Save {
                record,
                wallet_change,
                notes,
                ..
            } => (record, wallet_change, notes),
            other => panic!("expected a save, found {other:?}"),
        }
    }

    fn wallet(s: &str) -> WalletAddress {
        WalletAddress::parse(s).unwrap()
    }

    #[test]
    fn a_new_member_with_a_wallet_is_a_save_and_a_wallet_change() {
        let (record, change, _) = saved(plan_member(
            &user(Some(serde_json::json!({"1": "$w.example/ann"}))),
            "1",
            None,
            None,
        ));
        assert_eq!(record.wallet, Some(wallet("$w.example/ann")));
        assert_eq!(record.platform_user.unwrap().user_id, "7");
        assert_eq!(record.groups, ["team"]);
        assert_eq!(
            change,
            Some(WalletChange {
                from: None,
                to: Some(wallet("$w.example/ann"))
            })
        );
    }

    #[test]
    fn the_same_user_again_changes_nothing() {
        let event = user(Some(serde_json::json!({"1": "$w.example/ann"})));
        let (record, _, _) = saved(plan_member(&event, "1", None, None));
        assert_eq!(
            plan_member(&event, "1", Some(&record), Some(&record)),
            MemberPlan::Unchanged
        );
    }

    #[test]
    fn a_payload_without_the_field_keeps_the_wallet_and_null_clears_it() {
        let (record, _, _) = saved(plan_member(
            &user(Some(serde_json::json!({"1": "$w.example/ann"}))),
            "1",
            None,
            None,
        ));
        let mut promoted = user(None);
        promoted.trust_level = Some(3);
        let (after, change, _) = saved(plan_member(&promoted, "1", Some(&record), None));
        assert_eq!(after.wallet, record.wallet);
        assert_eq!(after.trust_level, Some(3));
        assert_eq!(change, None);
        let (cleared, change, _) = saved(plan_member(
            &user(Some(serde_json::json!({"1": null}))),
            "1",
            Some(&record),
            None,
        ));
        assert_eq!(cleared.wallet, None);
        assert_eq!(change.unwrap().from, record.wallet);
    }

    #[test]
    fn an_invalid_wallet_clears_it_and_says_why() {
        let (record, change, notes) = saved(plan_member(
            &user(Some(serde_json::json!({"1": "$w.example:8443/ann"}))),
            "1",
            None,
            None,
        ));
        assert_eq!(record.wallet, None);
        assert_eq!(change, None, "no wallet before, none after");
        assert!(notes[0].contains("no-port"), "{notes:?}");
    }

    #[test]
    fn a_username_held_by_another_discourse_user_is_skipped() {
        let other = MemberRecord {
            platform_user: Some(PlatformUser {
                platform: PLATFORM.into(),
                user_id: "99".into(),
            }),
            ..MemberRecord::named(MemberId::parse("ann").unwrap())
        };
        assert!(matches!(
            plan_member(&user(None), "1", None, Some(&other)),
            MemberPlan::Skip(_)
        ));
    }

    #[test]
    fn an_admin_registered_name_is_linked_to_the_discourse_user() {
        let admin_made = MemberRecord {
            wallet: Some(wallet("$w.example/old")),
            ..MemberRecord::named(MemberId::parse("ann").unwrap())
        };
        let MemberPlan::Save {
            replaces, record, ..
        } = plan_member(&user(None), "1", None, Some(&admin_made))
        else {
            panic!("a save")
        };
        assert_eq!(replaces.unwrap().as_str(), "ann");
        assert_eq!(record.wallet, admin_made.wallet);
    }

    #[test]
    fn a_renamed_user_replaces_the_old_name() {
        let (record, _, _) = saved(plan_member(&user(None), "1", None, None));
        let mut renamed = user(None);
        renamed.username = "ann2".into();
        let MemberPlan::Save {
            replaces,
            record: after,
            ..
        } = plan_member(&renamed, "1", Some(&record), None)
        else {
            panic!("a save")
        };
        assert_eq!(replaces.unwrap().as_str(), "ann");
        assert_eq!(after.member.as_str(), "ann2");
    }

    fn topic() -> Topic {
        Topic {
            id: 42,
            archetype: Some("regular".into()),
            category_id: Some(5),
            tags: Some(vec![TagRef::Name("Dev".into()), TagRef::Name("dev".into())]),
            created_by: Some(BasicUser {
                id: 7,
                username: "ann".into(),
            }),
        }
    }

    fn post(number: i64, username: &str) -> Post {
        Post {
            id: 300 + number,
            topic_id: 42,
            post_number: number,
            username: username.into(),
            user_id: Some(8),
            category_id: Some(5),
            topic_archetype: Some("regular".into()),
        }
    }

    fn saved_topic(plan: TopicUpdate) -> TopicRecord {
        match plan {
            TopicUpdate::Save { record, .. } => record,
            other => panic!("expected a save, found {other:?}"),
        }
    }

    #[test]
    fn topics_gather_author_tags_category_and_participants() {
        let created = saved_topic(plan_topic(Some(&topic()), None, None));
        assert_eq!(created.facts.author.as_str(), "ann");
        assert_eq!(created.facts.tags, [Tag::parse("dev").unwrap()]);
        assert_eq!(created.category.as_deref(), Some("5"));
        let replied = saved_topic(plan_topic(None, Some(&post(2, "bob")), Some(&created)));
        assert_eq!(
            replied.facts.participants,
            [MemberId::parse("bob").unwrap()]
        );
        assert_eq!(
            plan_topic(None, Some(&post(3, "bob")), Some(&replied)),
            TopicUpdate::Unchanged
        );
        assert_eq!(
            plan_topic(None, Some(&post(4, "ann")), Some(&replied)),
            TopicUpdate::Unchanged,
            "the author is not a participant"
        );
        assert_eq!(
            plan_topic(Some(&topic()), None, Some(&replied)),
            TopicUpdate::Unchanged,
            "topic_created after the replies keeps them"
        );
    }

    #[test]
    fn a_first_post_before_its_topic_opens_the_topic() {
        let opened = saved_topic(plan_topic(None, Some(&post(1, "ann")), None));
        assert_eq!(opened.facts.author.as_str(), "ann");
        assert!(matches!(
            plan_topic(None, Some(&post(2, "bob")), None),
            TopicUpdate::Skip(_)
        ));
    }

    #[test]
    fn private_messages_are_never_recorded() {
        let mut pm = topic();
        pm.archetype = Some("private_message".into());
        assert!(matches!(
            plan_topic(Some(&pm), None, None),
            TopicUpdate::Skip(_)
        ));
        let mut reply = post(1, "ann");
        reply.topic_archetype = Some("private_message".into());
        assert!(matches!(
            plan_topic(None, Some(&reply), None),
            TopicUpdate::Skip(_)
        ));
    }
}
