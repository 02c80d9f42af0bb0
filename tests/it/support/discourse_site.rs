//! The state of the fake Discourse site behind `discourse_api`: users with trust levels, groups
//! and custom fields, categories, topics (with `external_id`), posts, and polls read from the
//! posts' `[poll …]` markup the way Discourse's poll plugin reads them, with votes. Each
//! document is written in the shape of Discourse's serialisers.
//!
//! Option ids are computed here independently of the service: `JSON.stringify([text])` is written
//! out by hand, following ECMAScript's rules, then hashed with md5.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use serde_json::{Value, json};

/// `JSON.stringify([text])` as ECMAScript writes it.
pub fn js_stringify_single(text: &str) -> String {
    let mut out = String::from("[\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push_str("\"]");
    out
}

/// The option id Discourse's Markdown engine gives an option's text.
pub fn digest(text: &str) -> String {
    let mut hasher = Md5::new();
    hasher.update(js_stringify_single(text).as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A user of the site.
#[derive(Clone, Debug)]
pub struct SiteUser {
    pub id: i64,
    pub username: String,
    pub trust_level: u8,
    pub admin: bool,
    /// Groups beyond the automatic trust-level ones.
    pub groups: Vec<String>,
    /// Custom user fields by id.
    pub fields: BTreeMap<String, Option<String>>,
}

impl SiteUser {
    /// Every group, automatic `trust_level_0`..`trust_level_N` first, `staff`/`admins` for admins.
    pub fn all_groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = (0..=self.trust_level)
            .map(|l| format!("trust_level_{l}"))
            .collect();
        if self.admin {
            groups.push("admins".into());
            groups.push("staff".into());
        }
        groups.extend(self.groups.iter().cloned());
        groups
    }

    /// `UserNameSerializer`.
    pub fn name_json(&self) -> Value {
        json!({"id": self.id, "username": self.username, "name": self.username.to_uppercase(),
               "avatar_template": format!("/letter_avatar_proxy/v4/letter/{}/{{size}}.png",
                                          &self.username[..1]),
               "title": null})
    }

    /// `GET /u/{username}.json`.
    pub fn profile_json(&self) -> Value {
        let groups: Vec<Value> = self
            .all_groups()
            .iter()
            .enumerate()
            .map(|(i, name)| {
                json!({"id": 10 + i, "automatic": name.starts_with("trust_level")
                           || name == "admins" || name == "staff",
                       "name": name, "display_name": name, "user_count": 3,
                       "mentionable_level": 0, "messageable_level": 0, "visibility_level": 0,
                       "primary_group": false, "title": null, "grant_trust_level": null,
                       "has_messages": false, "flair_url": null, "flair_bg_color": null,
                       "flair_color": null, "bio_cooked": null, "public_admission": false,
                       "public_exit": false, "allow_membership_requests": false,
                       "full_name": null, "default_notification_level": 3})
            })
            .collect();
        let fields: serde_json::Map<String, Value> = self
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().map_or(Value::Null, Value::String)))
            .collect();
        json!({"user_badges": [], "user": {
            "id": self.id, "username": self.username, "name": self.username.to_uppercase(),
            "avatar_template": "/letter_avatar_proxy/v4/letter/a/{size}.png",
            "last_posted_at": "2025-03-01T10:00:00.000Z", "last_seen_at": "2025-03-02T10:00:00.000Z",
            "created_at": "2024-11-02T09:00:00.000Z", "ignored": false, "muted": false,
            "can_ignore_user": false, "can_mute_user": false, "can_send_private_messages": true,
            "can_send_private_message_to_user": true, "trust_level": self.trust_level,
            "moderator": false, "admin": self.admin, "title": null, "badge_count": 0,
            "custom_fields": {}, "time_read": 120, "recent_time_read": 60,
            "primary_group_id": null, "primary_group_name": null, "flair_group_id": null,
            "flair_name": null, "featured_topic": null, "staged": false, "pending_count": 0,
            "profile_view_count": 4, "user_fields": fields, "groups": groups,
            "featured_user_badge_ids": [], "card_badge": null}})
    }
}

/// A topic.
#[derive(Clone, Debug)]
pub struct SiteTopic {
    pub id: i64,
    pub title: String,
    pub slug: String,
    pub category_id: Option<i64>,
    pub archetype: String,
    pub external_id: Option<String>,
    pub recipients: Vec<String>,
    pub archived: bool,
}

/// A post.
#[derive(Clone, Debug)]
pub struct SitePost {
    pub id: i64,
    pub topic_id: i64,
    pub post_number: i64,
    pub username: String,
    pub raw: String,
}

/// A poll with its votes.
#[derive(Clone, Debug)]
pub struct SitePoll {
    pub id: i64,
    pub post_id: i64,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub public: bool,
    pub results: String,
    pub close: Option<String>,
    pub groups: Option<String>,
    /// (digest, html)
    pub options: Vec<(String, String)>,
    /// (user id, digest, order of casting)
    pub votes: Vec<(i64, String, u64)>,
}

impl SitePoll {
    /// Voters of one option, in the order they voted.
    pub fn voters_of(&self, digest: &str) -> Vec<i64> {
        let mut votes: Vec<&(i64, String, u64)> =
            self.votes.iter().filter(|(_, d, _)| d == digest).collect();
        votes.sort_by_key(|(_, _, seq)| *seq);
        votes.iter().map(|(user, _, _)| *user).collect()
    }

    /// `PollSerializer`, read by a staff member.
    pub fn json(&self) -> Value {
        let mut voters: Vec<i64> = self.votes.iter().map(|(u, _, _)| *u).collect();
        voters.sort();
        voters.dedup();
        let options: Vec<Value> = self
            .options
            .iter()
            .map(|(digest, html)| {
                json!({"id": digest, "html": html, "votes": self.voters_of(digest).len()})
            })
            .collect();
        let mut poll = json!({"id": self.id, "name": self.name, "type": self.kind,
            "status": self.status, "results": self.results, "options": options,
            "voters": voters.len(), "chart_type": "bar", "title": null});
        if self.public {
            poll["public"] = json!(true);
        }
        if let Some(close) = &self.close {
            poll["close"] = json!(close);
        }
        if let Some(groups) = &self.groups {
            poll["groups"] = json!(groups);
        }
        poll
    }
}

/// A `[poll …]` block as the plugin reads it: attributes and list items.
pub struct ParsedPoll {
    pub attrs: BTreeMap<String, String>,
    pub items: Vec<String>,
}

/// Reads every `[poll …]…[/poll]` block of a post's Markdown.
pub fn parse_polls(raw: &str) -> Vec<ParsedPoll> {
    let mut polls = Vec::new();
    let mut current: Option<ParsedPoll> = None;
    for line in raw.lines() {
        let line = line.trim();
        if let Some(open) = line.strip_prefix("[poll").and_then(|r| r.strip_suffix(']')) {
            let attrs = open
                .split_whitespace()
                .filter_map(|a| a.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect();
            current = Some(ParsedPoll {
                attrs,
                items: Vec::new(),
            });
        } else if line == "[/poll]" {
            polls.extend(current.take());
        } else if let Some(poll) = current.as_mut() {
            let item = line
                .strip_prefix("* ")
                .or_else(|| line.strip_prefix("- "))
                .or_else(|| {
                    let (n, rest) = line.split_once(". ")?;
                    n.chars().all(|c| c.is_ascii_digit()).then_some(rest)
                });
            if let Some(item) = item {
                poll.items.push(item.trim().to_string());
            }
        }
    }
    polls
}

/// Builds the polls of a new post, or the errors Discourse's validator gives.
pub fn polls_of(raw: &str, post_id: i64, first_poll_id: i64) -> Result<Vec<SitePoll>, String> {
    let mut polls: Vec<SitePoll> = Vec::new();
    for (i, parsed) in parse_polls(raw).into_iter().enumerate() {
        let name = parsed
            .attrs
            .get("name")
            .cloned()
            .unwrap_or_else(|| "poll".into());
        if polls.iter().any(|p| p.name == name) {
            return Err(format!(
                "There are multiple polls named <strong>{name}</strong>."
            ));
        }
        if parsed.items.is_empty() {
            return Err("Poll must have at least 1 option.".into());
        }
        if parsed.items.len() > 20 {
            return Err("Poll must have at most 20 options.".into());
        }
        let options: Vec<(String, String)> = parsed
            .items
            .iter()
            .map(|text| (digest(text), escape_html(text)))
            .collect();
        let mut digests: Vec<&String> = options.iter().map(|(d, _)| d).collect();
        digests.sort();
        digests.dedup();
        if digests.len() != options.len() {
            return Err("Poll options must be unique.".into());
        }
        polls.push(SitePoll {
            id: first_poll_id + i as i64,
            post_id,
            name,
            kind: parsed
                .attrs
                .get("type")
                .cloned()
                .unwrap_or("regular".into()),
            status: parsed.attrs.get("status").cloned().unwrap_or("open".into()),
            public: parsed.attrs.get("public").is_some_and(|p| p == "true"),
            results: parsed
                .attrs
                .get("results")
                .cloned()
                .unwrap_or("always".into()),
            close: parsed.attrs.get("close").cloned(),
            groups: parsed.attrs.get("groups").cloned(),
            options,
            votes: Vec::new(),
        });
    }
    Ok(polls)
}

/// `PostSerializer` for a post (with `raw` and its polls when it has any).
pub fn post_json(
    post: &SitePost,
    topic: &SiteTopic,
    author: &SiteUser,
    polls: &[&SitePoll],
) -> Value {
    let mut doc = json!({
        "id": post.id, "name": author.username.to_uppercase(), "username": author.username,
        "avatar_template": "/letter_avatar_proxy/v4/letter/s/{size}.png",
        "created_at": "2025-03-01T10:00:00.000Z", "cooked": format!("<p>{}</p>", escape_html(&post.raw)),
        "post_number": post.post_number, "post_type": 1, "posts_count": post.post_number,
        "updated_at": "2025-03-01T10:00:00.000Z", "reply_count": 0, "reply_to_post_number": null,
        "quote_count": 0, "incoming_link_count": 0, "reads": 1, "readers_count": 0, "score": 0.0,
        "yours": true, "topic_id": topic.id, "topic_slug": topic.slug,
    });
    let more = json!({
        "display_username": author.username.to_uppercase(), "primary_group_name": null,
        "flair_name": null, "version": 1, "can_edit": true, "can_delete": false,
        "can_recover": false, "can_see_hidden_post": true, "can_wiki": true,
        "user_title": null, "bookmarked": false, "raw": post.raw, "actions_summary": [],
        "moderator": false, "admin": author.admin, "staff": author.admin, "user_id": author.id,
        "hidden": false, "trust_level": author.trust_level, "deleted_at": null,
        "user_deleted": false, "edit_reason": null, "can_view_edit_history": true,
        "wiki": false, "post_url": format!("/t/{}/{}/{}", topic.slug, topic.id, post.post_number),
    });
    for (key, value) in more.as_object().expect("an object") {
        doc[key] = value.clone();
    }
    if !polls.is_empty() {
        doc["polls"] = Value::Array(polls.iter().map(|p| p.json()).collect());
    }
    doc
}

/// A topic's slug as Discourse derives it from the title.
pub fn slug_of(title: &str) -> String {
    let slug: String = title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let slug = slug
        .split('-')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if slug.is_empty() {
        "topic".into()
    } else {
        slug
    }
}
