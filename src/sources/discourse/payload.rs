//! The parts of Discourse's webhook payloads the service reads. The body is one JSON object
//! whose only key names the object type (`{"user": {…}}`, `{"topic": {…}}`, `{"post": {…}}`,
//! `{"user_promoted": {…}}`; a ping is `{"ping":"OK"}`); unknown fields are ignored, so newer
//! Discourse versions keep working.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A user as Discourse serialises it in `user_*` events.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct User {
    /// The stable user id.
    pub id: i64,
    /// The username (it may change; the id does not).
    pub username: String,
    /// 0 to 4.
    #[serde(default)]
    pub trust_level: Option<u8>,
    /// Groups the user is in, when the payload lists them.
    #[serde(default)]
    pub groups: Option<Vec<GroupRef>>,
    /// Custom user fields, keyed by the field's id as a string; values are text, or null when
    /// unset (multiple-choice fields may be arrays).
    #[serde(default)]
    pub user_fields: Option<BTreeMap<String, serde_json::Value>>,
}

/// A group in a user payload: an object with a `name` (Discourse's form), or a bare name.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum GroupRef {
    /// `{"id": 10, "name": "team", …}`.
    Object {
        /// The group's name.
        name: String,
    },
    /// `"team"`.
    Name(String),
}

impl GroupRef {
    /// The group's name.
    pub fn name(&self) -> &str {
        match self {
            GroupRef::Object { name } | GroupRef::Name(name) => name,
        }
    }
}

/// A tag in a topic payload: a bare name (Discourse's form), or an object with a `name`.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum TagRef {
    /// `"dev"`.
    Name(String),
    /// `{"id": 3, "name": "dev", …}`.
    Object {
        /// The tag's name.
        name: String,
    },
}

impl TagRef {
    /// The tag's name.
    pub fn name(&self) -> &str {
        match self {
            TagRef::Object { name } | TagRef::Name(name) => name,
        }
    }
}

/// A user as embedded in other objects (`created_by`, `last_poster`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct BasicUser {
    /// The stable user id.
    pub id: i64,
    /// The username.
    pub username: String,
}

/// A topic as Discourse serialises it in `topic_*` events.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Topic {
    /// The topic id.
    pub id: i64,
    /// `regular` or `private_message`.
    #[serde(default)]
    pub archetype: Option<String>,
    /// Its category.
    #[serde(default)]
    pub category_id: Option<i64>,
    /// Its tags.
    #[serde(default)]
    pub tags: Option<Vec<TagRef>>,
    /// Who opened it.
    #[serde(default)]
    pub created_by: Option<BasicUser>,
}

/// A post as Discourse serialises it in `post_*` events.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Post {
    /// The post id.
    pub id: i64,
    /// The topic it belongs to.
    pub topic_id: i64,
    /// 1 for the topic's first post.
    pub post_number: i64,
    /// The author's username.
    pub username: String,
    /// The author's user id.
    #[serde(default)]
    pub user_id: Option<i64>,
    /// The topic's category.
    #[serde(default)]
    pub category_id: Option<i64>,
    /// `regular` or `private_message`.
    #[serde(default)]
    pub topic_archetype: Option<String>,
}

/// Which user event a user payload came with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserEvent {
    /// `user_created`.
    Created,
    /// `user_updated`.
    Updated,
    /// `user_promoted` (to a higher trust level).
    Promoted,
}

/// A classified delivery.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// Discourse's test delivery.
    Ping,
    /// A user was created, updated or promoted; the payload is the whole user.
    User(UserEvent, User),
    /// A topic was created.
    TopicCreated(Topic),
    /// A post was created.
    PostCreated(Post),
    /// Any other event: stored in the event log, changes nothing here.
    Other(String),
}

impl Event {
    /// The event's name, as in `X-Discourse-Event`.
    pub fn name(&self) -> &str {
        match self {
            Event::Ping => "ping",
            Event::User(UserEvent::Created, _) => "user_created",
            Event::User(UserEvent::Updated, _) => "user_updated",
            Event::User(UserEvent::Promoted, _) => "user_promoted",
            Event::TopicCreated(_) => "topic_created",
            Event::PostCreated(_) => "post_created",
            Event::Other(name) => name,
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON at all.
    #[error("the body is not valid JSON: {0}")]
    Syntax(serde_json::Error),
    /// JSON, but not what Discourse sends for this event.
    #[error("the `{event}` payload is not of Discourse's form: {detail}")]
    Shape {
        /// The event's name.
        event: String,
        /// What was wrong.
        detail: String,
    },
}

/// Classifies a delivery by its `X-Discourse-Event` name and reads the payload the service uses.
pub fn parse_event(event: &str, body: &[u8]) -> Result<Event, PayloadError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(PayloadError::Syntax)?;
    let shape = |detail: String| PayloadError::Shape {
        event: event.to_string(),
        detail,
    };
    let serde_json::Value::Object(mut object) = value else {
        return Err(shape("the body must be a JSON object".into()));
    };
    fn inner<T: DeserializeOwned>(
        object: &mut serde_json::Map<String, serde_json::Value>,
        shape: impl Fn(String) -> PayloadError,
    ) -> Result<T, PayloadError> {
        // The single key names the object type; which name it is varies by event and version.
        let mut values = std::mem::take(object).into_iter();
        let (Some((_, payload)), None) = (values.next(), values.next()) else {
            return Err(shape("the body must hold exactly one object".into()));
        };
        serde_json::from_value(payload).map_err(|e| shape(e.to_string()))
    }
    Ok(match event {
        "ping" => Event::Ping,
        "user_created" => Event::User(UserEvent::Created, inner(&mut object, shape)?),
        "user_updated" => Event::User(UserEvent::Updated, inner(&mut object, shape)?),
        "user_promoted" => Event::User(UserEvent::Promoted, inner(&mut object, shape)?),
        "topic_created" => Event::TopicCreated(inner(&mut object, shape)?),
        "post_created" => Event::PostCreated(inner(&mut object, shape)?),
        other => Event::Other(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `user_updated` body trimmed from what Discourse's user serialiser sends.
    const USER_UPDATED: &str = r#"{"user":{"id":7,"username":"ann","name":"Ann","avatar_template":"/user_avatar/forum.example/ann/{size}/3_2.png","email":"ann@example.com","last_posted_at":"2025-03-01T10:00:00.000Z","created_at":"2024-11-02T09:00:00.000Z","trust_level":2,"moderator":false,"admin":false,"title":null,"badge_count":3,"user_fields":{"1":"$wallet.example/ann","2":null},"custom_fields":{},"primary_group_id":null,"groups":[{"id":11,"automatic":true,"name":"trust_level_1","display_name":"trust_level_1","user_count":40},{"id":41,"automatic":false,"name":"maintainers","user_count":4}],"featured_topic":null}}"#;

    const TOPIC_CREATED: &str = r#"{"topic":{"tags":["dev","rust"],"tags_descriptions":{},"id":42,"title":"Split for docs","fancy_title":"Split for docs","posts_count":1,"created_at":"2025-03-01T10:00:00.000Z","views":0,"reply_count":0,"like_count":0,"last_posted_at":"2025-03-01T10:00:00.000Z","visible":true,"closed":false,"archived":false,"archetype":"regular","slug":"split-for-docs","category_id":5,"word_count":12,"deleted_at":null,"user_id":7,"featured_link":null,"pinned_globally":false,"highest_post_number":1,"participant_count":1,"created_by":{"id":7,"username":"ann","name":"Ann","avatar_template":"/a/{size}.png"},"last_poster":{"id":7,"username":"ann","name":"Ann","avatar_template":"/a/{size}.png"}}}"#;

    const POST_CREATED: &str = r#"{"post":{"id":301,"name":"Bob","username":"bob","avatar_template":"/b/{size}.png","created_at":"2025-03-01T11:00:00.000Z","cooked":"<p>Agreed</p>","post_number":2,"post_type":1,"updated_at":"2025-03-01T11:00:00.000Z","reply_count":0,"reply_to_post_number":null,"quote_count":0,"topic_id":42,"topic_slug":"split-for-docs","topic_title":"Split for docs","category_id":5,"display_username":"Bob","version":1,"raw":"Agreed","moderator":false,"admin":false,"staff":false,"user_id":8,"hidden":false,"trust_level":1,"deleted_at":null,"user_deleted":false,"wiki":false,"topic_posts_count":2,"topic_filtered_posts_count":2,"topic_archetype":"regular","category_slug":"dev"}}"#;

    #[test]
    fn a_user_payload_keys_custom_fields_by_id_string() {
        let Event::User(UserEvent::Updated, user) =
            parse_event("user_updated", USER_UPDATED.as_bytes()).unwrap()
        else {
            panic!("a user event")
        };
        assert_eq!((user.id, user.username.as_str()), (7, "ann"));
        assert_eq!(user.trust_level, Some(2));
        let fields = user.user_fields.unwrap();
        assert_eq!(fields["1"], "$wallet.example/ann");
        assert!(fields["2"].is_null());
        let groups: Vec<&str> = user.groups.iter().flatten().map(GroupRef::name).collect();
        assert_eq!(groups, ["trust_level_1", "maintainers"]);
    }

    #[test]
    fn user_promoted_carries_a_user_under_its_own_key() {
        let body = r#"{"user_promoted":{"id":7,"username":"ann","trust_level":3}}"#;
        let Event::User(UserEvent::Promoted, user) =
            parse_event("user_promoted", body.as_bytes()).unwrap()
        else {
            panic!("a user event")
        };
        assert_eq!(user.trust_level, Some(3));
        assert!(user.user_fields.is_none(), "absent, not empty");
    }

    #[test]
    fn a_topic_payload_names_author_tags_and_category() {
        let Event::TopicCreated(topic) =
            parse_event("topic_created", TOPIC_CREATED.as_bytes()).unwrap()
        else {
            panic!("a topic event")
        };
        assert_eq!(topic.id, 42);
        assert_eq!(topic.created_by.unwrap().username, "ann");
        assert_eq!(topic.category_id, Some(5));
        let tags: Vec<&str> = topic.tags.iter().flatten().map(TagRef::name).collect();
        assert_eq!(tags, ["dev", "rust"]);
        let objects = r#"{"topic":{"id":1,"tags":[{"id":3,"name":"dev","slug":"dev"}]}}"#;
        let Event::TopicCreated(topic) = parse_event("topic_created", objects.as_bytes()).unwrap()
        else {
            panic!("a topic event")
        };
        assert_eq!(topic.tags.unwrap()[0].name(), "dev");
    }

    #[test]
    fn a_post_payload_names_its_topic_and_author() {
        let Event::PostCreated(post) =
            parse_event("post_created", POST_CREATED.as_bytes()).unwrap()
        else {
            panic!("a post event")
        };
        assert_eq!(
            (post.topic_id, post.post_number, post.username.as_str()),
            (42, 2, "bob")
        );
        assert_eq!(post.topic_archetype.as_deref(), Some("regular"));
    }

    #[test]
    fn ping_and_unused_events_classify_without_reading_a_payload() {
        assert_eq!(
            parse_event("ping", br#"{"ping":"OK"}"#).unwrap(),
            Event::Ping
        );
        assert_eq!(
            parse_event("post_liked", br#"{"like":{}}"#).unwrap(),
            Event::Other("post_liked".into())
        );
    }

    #[test]
    fn bad_bodies_are_told_apart_from_bad_shapes() {
        assert!(matches!(
            parse_event("user_updated", b"{\"user\":"),
            Err(PayloadError::Syntax(_))
        ));
        assert!(matches!(
            parse_event("user_updated", br#"{"user":{"id":"seven"}}"#),
            Err(PayloadError::Shape { .. })
        ));
        assert!(matches!(
            parse_event("user_updated", br#"[1,2]"#),
            Err(PayloadError::Shape { .. })
        ));
        assert!(matches!(
            parse_event("ping", b"not json"),
            Err(PayloadError::Syntax(_))
        ));
    }
}
