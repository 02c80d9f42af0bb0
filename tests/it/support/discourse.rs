//! A fake Discourse: builds payloads in Discourse's own shapes (`{"user": {…}}` with
//! `user_fields` keyed by field id strings, `{"topic": {…}}` with `created_by`, tags and
//! `category_id`, `{"post": {…}}`), and sends them as Discourse sends webhooks: POST with
//! `Content-Type: application/json`, `X-Discourse-Instance`, `X-Discourse-Event-Id`,
//! `X-Discourse-Event-Type`, `X-Discourse-Event` and `X-Discourse-Event-Signature`
//! (`sha256=` and the hex HMAC-SHA256 of the body), either to a router in-process or to a
//! service over loopback HTTP.
//!
//! It signs with its own HMAC, not the service's code, so a test that passes shows the two agree.
//! The API half (users, user fields, topics, posts, polls) is `discourse_api`.

use std::sync::atomic::{AtomicU64, Ordering};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// A Discourse site that sends webhooks.
pub struct FakeDiscourse {
    /// Its base URL, as sent in `X-Discourse-Instance`.
    pub base_url: String,
    /// The webhook secret.
    pub secret: String,
    next_event_id: AtomicU64,
}

/// A user as the fake serialises them.
#[derive(Clone, Debug)]
pub struct FakeUser {
    pub id: i64,
    pub username: String,
    pub trust_level: u8,
    pub groups: Vec<String>,
    /// Custom user fields by id (`"1"`), `None` for an unset field.
    pub fields: Vec<(String, Option<String>)>,
}

impl FakeUser {
    /// A trust level 1 user with the wallet field `1` set to `wallet`.
    pub fn new(id: i64, username: &str, wallet: Option<&str>) -> Self {
        FakeUser {
            id,
            username: username.to_string(),
            trust_level: 1,
            groups: vec!["trust_level_0".into(), "trust_level_1".into()],
            fields: vec![
                ("1".into(), wallet.map(str::to_string)),
                ("2".into(), Some("Berlin".into())),
            ],
        }
    }

    /// The same user with another wallet in field `1`.
    pub fn with_wallet(&self, wallet: Option<&str>) -> Self {
        let mut user = self.clone();
        user.fields[0].1 = wallet.map(str::to_string);
        user
    }

    /// The user as Discourse's user serialiser writes them.
    pub fn json(&self) -> Value {
        let fields: serde_json::Map<String, Value> = self
            .fields
            .iter()
            .map(|(id, v)| (id.clone(), v.clone().map_or(Value::Null, Value::String)))
            .collect();
        let groups: Vec<Value> = self
            .groups
            .iter()
            .enumerate()
            .map(|(i, name)| {
                json!({"id": 10 + i, "automatic": name.starts_with("trust_level"), "name": name,
                       "display_name": name, "user_count": 12, "mentionable_level": 0,
                       "visibility_level": 0, "primary_group": false, "flair_url": null})
            })
            .collect();
        json!({
            "id": self.id, "username": self.username, "name": self.username.to_uppercase(),
            "avatar_template": format!("/user_avatar/forum.example/{}/{{size}}/2_2.png", self.username),
            "email": format!("{}@example.com", self.username), "secondary_emails": [],
            "last_posted_at": "2025-03-01T10:00:00.000Z", "last_seen_at": "2025-03-02T10:00:00.000Z",
            "created_at": "2024-11-02T09:00:00.000Z", "ignored": false, "muted": false,
            "trust_level": self.trust_level, "moderator": false, "admin": false, "title": null,
            "badge_count": 0, "user_fields": fields, "custom_fields": {}, "time_read": 120,
            "recent_time_read": 60, "primary_group_id": null, "primary_group_name": null,
            "flair_group_id": null, "featured_topic": null, "groups": groups,
        })
    }
}

/// A topic as the fake serialises it.
#[derive(Clone, Debug)]
pub struct FakeTopic {
    pub id: i64,
    pub author: (i64, String),
    pub tags: Vec<String>,
    pub category_id: i64,
    pub private: bool,
}

/// One webhook, ready to send any number of times (a redelivery keeps the event id).
#[derive(Clone, Debug)]
pub struct Delivery {
    pub event_id: u64,
    pub body: String,
    pub headers: Vec<(String, String)>,
}

impl FakeDiscourse {
    pub fn new(base_url: &str, secret: &str) -> Self {
        FakeDiscourse {
            base_url: base_url.to_string(),
            secret: secret.to_string(),
            next_event_id: AtomicU64::new(1),
        }
    }

    /// `sha256=` and the hex HMAC-SHA256 of `body` under the site's secret.
    pub fn sign(&self, body: &[u8]) -> String {
        sign(self.secret.as_bytes(), body)
    }

    /// A delivery of `{event_type: payload}` (or the ping body), signed, with a new event id.
    pub fn delivery(&self, event: &str, event_type: &str, payload: Option<Value>) -> Delivery {
        let body = match payload {
            Some(payload) => json!({ event_type: payload }).to_string(),
            None => r#"{"ping":"OK"}"#.to_string(),
        };
        self.raw_delivery(event, event_type, body)
    }

    /// A delivery of an exact body, signed, with a new event id.
    pub fn raw_delivery(&self, event: &str, event_type: &str, body: String) -> Delivery {
        let event_id = self.next_event_id.fetch_add(1, Ordering::Relaxed);
        let headers = vec![
            ("content-type".into(), "application/json".into()),
            ("user-agent".into(), "Discourse/3.4.0".into()),
            ("x-discourse-instance".into(), self.base_url.clone()),
            ("x-discourse-event-id".into(), event_id.to_string()),
            ("x-discourse-event-type".into(), event_type.into()),
            ("x-discourse-event".into(), event.into()),
            (
                "x-discourse-event-signature".into(),
                self.sign(body.as_bytes()),
            ),
        ];
        Delivery {
            event_id,
            body,
            headers,
        }
    }

    /// Discourse's test delivery.
    pub fn ping(&self) -> Delivery {
        self.delivery("ping", "ping", None)
    }

    /// `user_created`, `user_updated` (under `user`) or `user_promoted` (under its own key).
    pub fn user_event(&self, event: &str, user: &FakeUser) -> Delivery {
        let key = if event == "user_promoted" {
            "user_promoted"
        } else {
            "user"
        };
        let mut payload = user.json();
        if event == "user_promoted" {
            // The promotion payload comes from the plain user serialiser; keep only what it
            // certainly has, so the service cannot lean on custom fields being there.
            payload = json!({"id": user.id, "username": user.username,
                             "trust_level": user.trust_level, "admin": false, "moderator": false});
        }
        self.delivery(event, key, Some(payload))
    }

    /// `topic_created`.
    pub fn topic_created(&self, topic: &FakeTopic) -> Delivery {
        let author = json!({"id": topic.author.0, "username": topic.author.1,
                            "name": topic.author.1, "avatar_template": "/a/{size}.png"});
        let payload = json!({
            "tags": topic.tags, "tags_descriptions": {}, "id": topic.id,
            "title": format!("Topic {}", topic.id), "fancy_title": format!("Topic {}", topic.id),
            "posts_count": 1, "created_at": "2025-03-01T10:00:00.000Z", "views": 0,
            "reply_count": 0, "like_count": 0, "last_posted_at": "2025-03-01T10:00:00.000Z",
            "visible": true, "closed": false, "archived": false,
            "archetype": if topic.private { "private_message" } else { "regular" },
            "slug": format!("topic-{}", topic.id), "category_id": topic.category_id,
            "word_count": 20, "deleted_at": null, "user_id": topic.author.0,
            "featured_link": null, "pinned_globally": false, "pinned_at": null,
            "pinned_until": null, "unpinned": null, "pinned": false, "highest_post_number": 1,
            "deleted_by": null, "has_deleted": false, "bookmarked": false, "participant_count": 1,
            "thumbnails": null, "created_by": author, "last_poster": author,
        });
        self.delivery("topic_created", "topic", Some(payload))
    }

    /// `post_created`: post `number` of `topic` by `poster`.
    pub fn post_created(&self, topic: &FakeTopic, number: i64, poster: (i64, &str)) -> Delivery {
        let payload = json!({
            "id": 1000 + topic.id * 100 + number, "name": poster.1, "username": poster.1,
            "avatar_template": "/a/{size}.png", "created_at": "2025-03-01T11:00:00.000Z",
            "cooked": "<p>Agreed.</p>", "post_number": number, "post_type": 1,
            "updated_at": "2025-03-01T11:00:00.000Z", "reply_count": 0,
            "reply_to_post_number": null, "quote_count": 0, "incoming_link_count": 0,
            "reads": 1, "score": 0, "topic_id": topic.id, "topic_slug": format!("topic-{}", topic.id),
            "topic_title": format!("Topic {}", topic.id), "category_id": topic.category_id,
            "display_username": poster.1, "primary_group_name": null, "version": 1,
            "user_title": null, "bookmarked": false, "raw": "Agreed.", "moderator": false,
            "admin": false, "staff": false, "user_id": poster.0, "hidden": false,
            "trust_level": 1, "deleted_at": null, "user_deleted": false, "edit_reason": null,
            "wiki": false, "reviewable_id": null, "topic_posts_count": number,
            "topic_filtered_posts_count": number,
            "topic_archetype": if topic.private { "private_message" } else { "regular" },
            "category_slug": "general",
        });
        self.delivery("post_created", "post", Some(payload))
    }
}

/// `sha256=` and the lowercase hex HMAC-SHA256 of `body` keyed with `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Delivery {
    /// The same delivery with one header replaced (or removed, with `None`).
    pub fn with_header(&self, name: &str, value: Option<&str>) -> Delivery {
        let mut delivery = self.clone();
        delivery.headers.retain(|(n, _)| n != name);
        if let Some(value) = value {
            delivery.headers.push((name.into(), value.into()));
        }
        delivery
    }

    /// The same headers over another body (the signature no longer matches it).
    pub fn with_body(&self, body: &str) -> Delivery {
        Delivery {
            body: body.into(),
            ..self.clone()
        }
    }

    /// The delivery as a request for a router, to `/hooks/discourse/{community}`.
    pub fn request(&self, community: &str) -> axum::http::Request<axum::body::Body> {
        let mut request = axum::http::Request::post(format!("/hooks/discourse/{community}"));
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request
            .body(axum::body::Body::from(self.body.clone()))
            .expect("a valid request")
    }

    /// Sends the delivery over HTTP to `{service}/hooks/discourse/{community}`; the status and body.
    pub async fn send(
        &self,
        client: &reqwest::Client,
        service: &str,
        community: &str,
    ) -> (u16, String) {
        let mut request = client
            .post(format!("{service}/hooks/discourse/{community}"))
            .body(self.body.clone());
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().await.expect("the service answers");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }
}
