//! The Discourse API calls this service makes, each on a [`Transport`] (timeouts, retries, the
//! shared rate-limit gate): create a post (a poll in a topic or a new topic, or a private
//! message), read a post with its polls, read a poll's voters page by page, read a user, list the
//! custom user fields, open or close a poll, and find a topic by its `external_id`.
//!
//! Creations that carry an `external_id` (new topics and private messages) are safe to repeat: a
//! repeat that Discourse refuses because the id is taken is answered with the topic that the
//! earlier try created, so a message is created once however often it is sent.

use reqwest::Method;
use secrecy::SecretString;
use serde_json::json;

use super::api::{
    PostDoc, TopicDoc, UserDoc, UserEnvelope, UserFieldDoc, UserFieldsEnvelope, VoterDoc, VotersDoc,
};
use super::transport::{ApiError, DiscourseSites, RawDocument, Repeat, Transport};

/// Most voters Discourse returns per page of `/polls/voters.json`.
pub const VOTERS_PAGE_LIMIT: u32 = 50;

/// Most pages of voters read for one option (25,000 ballots at 50 a page).
const MAX_VOTER_PAGES: u32 = 500;

/// Longest `external_id` Discourse accepts.
pub const MAX_EXTERNAL_ID_CHARS: usize = 50;

/// A post to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NewPost {
    /// A reply in an existing topic.
    Reply {
        /// The topic.
        topic_id: i64,
        /// The Markdown.
        raw: String,
    },
    /// A new topic in a category.
    Topic {
        /// The topic's title.
        title: String,
        /// The opening post's Markdown.
        raw: String,
        /// The category.
        category_id: i64,
        /// A unique id that makes the creation safe to repeat.
        external_id: String,
    },
    /// A private message.
    PrivateMessage {
        /// The message's title.
        title: String,
        /// The Markdown.
        raw: String,
        /// Usernames it goes to.
        recipients: Vec<String>,
        /// A unique id that makes the creation safe to repeat.
        external_id: String,
    },
}

/// What a creation gave back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreatedPost {
    /// The new post's id.
    pub post_id: i64,
    /// Its topic's id.
    pub topic_id: i64,
    /// A link to the post.
    pub url: String,
    /// The answer as received.
    pub raw: RawDocument,
}

/// A client of one Discourse site, acting as one API user.
#[derive(Clone, Debug)]
pub struct DiscourseClient {
    transport: Transport,
}

impl DiscourseClient {
    /// A client of the site at `base_url`, with `key` acting as `username`.
    pub fn new(
        sites: &DiscourseSites,
        base_url: &str,
        key: SecretString,
        username: &str,
    ) -> DiscourseClient {
        DiscourseClient {
            transport: sites.transport(base_url, key, username),
        }
    }

    /// The site's base URL.
    pub fn base_url(&self) -> &str {
        self.transport.base_url()
    }

    /// `POST /posts.json`.
    pub async fn create_post(&self, post: &NewPost) -> Result<CreatedPost, ApiError> {
        let (body, external_id) = match post {
            NewPost::Reply { topic_id, raw } => (json!({"topic_id": topic_id, "raw": raw}), None),
            NewPost::Topic {
                title,
                raw,
                category_id,
                external_id,
            } => (
                json!({"title": title, "raw": raw, "category": category_id,
                       "external_id": external_id}),
                Some(external_id),
            ),
            NewPost::PrivateMessage {
                title,
                raw,
                recipients,
                external_id,
            } => (
                json!({"title": title, "raw": raw, "archetype": "private_message",
                       "target_recipients": recipients.join(","), "external_id": external_id}),
                Some(external_id),
            ),
        };
        if let Some(id) = external_id {
            check_external_id(id)?;
        }
        let repeat = if external_id.is_some() {
            Repeat::Safe
        } else {
            Repeat::OnlyIfUnsent
        };
        let answer = self
            .transport
            .send(Method::POST, "/posts.json", Some(&body), repeat)
            .await;
        let raw = match answer {
            Ok(raw) => raw,
            Err(e) => {
                if let (ApiError::Refused { status: 422, .. }, Some(id)) = (&e, external_id)
                    && let Some(created) = self.created_by_earlier_try(id).await?
                {
                    return Ok(created);
                }
                return Err(e);
            }
        };
        let doc: PostDoc = read(&raw)?;
        Ok(CreatedPost {
            post_id: doc.id,
            topic_id: doc.topic_id,
            url: self.post_url(&doc),
            raw,
        })
    }

    /// The opening post of the topic an earlier try created under `external_id`, if any.
    async fn created_by_earlier_try(
        &self,
        external_id: &str,
    ) -> Result<Option<CreatedPost>, ApiError> {
        let Some((topic, raw)) = self.topic_by_external_id(external_id).await? else {
            return Ok(None);
        };
        let first = topic
            .post_stream
            .and_then(|s| s.posts.into_iter().next())
            .ok_or_else(|| ApiError::Malformed {
                request: raw.path.clone(),
                detail: "the topic has no posts".into(),
            })?;
        tracing::info!(
            topic = topic.id,
            "an earlier try had created the topic already"
        );
        Ok(Some(CreatedPost {
            post_id: first.id,
            topic_id: topic.id,
            url: self.post_url(&first),
            raw,
        }))
    }

    /// `GET /t/external_id/{id}.json` (Discourse redirects to the topic): the topic, or `None`.
    pub async fn topic_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<(TopicDoc, RawDocument)>, ApiError> {
        check_external_id(external_id)?;
        let path = format!("/t/external_id/{}.json", encode(external_id));
        match self
            .transport
            .send(Method::GET, &path, None, Repeat::Safe)
            .await
        {
            Ok(raw) => Ok(Some((read(&raw)?, raw))),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /posts/{id}.json`: the post with its polls and raw Markdown, and the document.
    pub async fn post(&self, post_id: i64) -> Result<(PostDoc, RawDocument), ApiError> {
        let raw = self
            .transport
            .send(
                Method::GET,
                &format!("/posts/{post_id}.json"),
                None,
                Repeat::Safe,
            )
            .await?;
        Ok((read(&raw)?, raw))
    }

    /// One page (from 1) of `GET /polls/voters.json` for one option.
    pub async fn poll_voters_page(
        &self,
        post_id: i64,
        poll_name: &str,
        option_id: &str,
        page: u32,
        limit: u32,
    ) -> Result<(Vec<VoterDoc>, RawDocument), ApiError> {
        let path = format!(
            "/polls/voters.json?post_id={post_id}&poll_name={}&option_id={}&page={page}&limit={}",
            encode(poll_name),
            encode(option_id),
            limit.clamp(1, VOTERS_PAGE_LIMIT)
        );
        let raw = self
            .transport
            .send(Method::GET, &path, None, Repeat::Safe)
            .await?;
        let mut doc: VotersDoc = read(&raw)?;
        Ok((doc.voters.remove(option_id).unwrap_or_default(), raw))
    }

    /// Every voter of one option, paging 50 at a time until a short page; each voter once.
    pub async fn poll_voters(
        &self,
        post_id: i64,
        poll_name: &str,
        option_id: &str,
    ) -> Result<(Vec<VoterDoc>, Vec<RawDocument>), ApiError> {
        let mut voters: Vec<VoterDoc> = Vec::new();
        let mut documents = Vec::new();
        for page in 1..=MAX_VOTER_PAGES {
            let (batch, raw) = self
                .poll_voters_page(post_id, poll_name, option_id, page, VOTERS_PAGE_LIMIT)
                .await?;
            documents.push(raw);
            let full = batch.len() >= VOTERS_PAGE_LIMIT as usize;
            let before = voters.len();
            for voter in batch {
                if !voters.iter().any(|v| v.id == voter.id) {
                    voters.push(voter);
                }
            }
            if !full || voters.len() == before {
                break;
            }
        }
        Ok((voters, documents))
    }

    /// `GET /u/{username}.json`: trust level, groups and (for an admin key) custom fields.
    pub async fn user(&self, username: &str) -> Result<UserDoc, ApiError> {
        let raw = self
            .transport
            .send(
                Method::GET,
                &format!("/u/{}.json", encode(username)),
                None,
                Repeat::Safe,
            )
            .await?;
        Ok(read::<UserEnvelope>(&raw)?.user)
    }

    /// `GET /admin/customize/user_fields.json` (needs an admin key): every custom user field.
    pub async fn user_fields(&self) -> Result<Vec<UserFieldDoc>, ApiError> {
        let raw = self
            .transport
            .send(
                Method::GET,
                "/admin/customize/user_fields.json",
                None,
                Repeat::Safe,
            )
            .await?;
        Ok(read::<UserFieldsEnvelope>(&raw)?.user_fields)
    }

    /// The id of the custom user field named `name`: the exact name, else the one field whose
    /// name matches ignoring case. `Err(names)` lists the site's fields when none matches.
    pub async fn user_field_id(&self, name: &str) -> Result<Result<i64, Vec<String>>, ApiError> {
        let fields = self.user_fields().await?;
        if let Some(field) = fields.iter().find(|f| f.name == name) {
            return Ok(Ok(field.id));
        }
        let folded: Vec<&UserFieldDoc> = fields
            .iter()
            .filter(|f| f.name.to_lowercase() == name.to_lowercase())
            .collect();
        Ok(match folded.as_slice() {
            [one] => Ok(one.id),
            _ => Err(fields.into_iter().map(|f| f.name).collect()),
        })
    }

    /// `PUT /polls/toggle_status`: opens or closes a poll. Closing a closed poll succeeds.
    pub async fn set_poll_status(
        &self,
        post_id: i64,
        poll_name: &str,
        closed: bool,
    ) -> Result<RawDocument, ApiError> {
        let body = json!({"post_id": post_id, "poll_name": poll_name,
                          "status": if closed { "closed" } else { "open" }});
        self.transport
            .send(
                Method::PUT,
                "/polls/toggle_status",
                Some(&body),
                Repeat::Safe,
            )
            .await
    }

    fn post_url(&self, doc: &PostDoc) -> String {
        let number = doc.post_number.unwrap_or(1);
        match &doc.topic_slug {
            Some(slug) => format!(
                "{}/t/{}/{}/{number}",
                self.base_url(),
                encode(slug),
                doc.topic_id
            ),
            None => format!("{}/t/{}/{number}", self.base_url(), doc.topic_id),
        }
    }
}

/// Refuses an `external_id` Discourse would not take (it allows letters, digits, `_` and `-`).
fn check_external_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty()
        || id.len() > MAX_EXTERNAL_ID_CHARS
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ApiError::Invalid(format!(
            "an external_id must be 1 to {MAX_EXTERNAL_ID_CHARS} letters, digits, `_` or `-`"
        )));
    }
    Ok(())
}

fn read<T: serde::de::DeserializeOwned>(raw: &RawDocument) -> Result<T, ApiError> {
    serde_json::from_str(&raw.body).map_err(|e| ApiError::Malformed {
        request: format!(
            "{} {}",
            raw.method,
            raw.path.split('?').next().unwrap_or("")
        ),
        detail: e.to_string(),
    })
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for a path segment or a
/// query value.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_keeps_unreserved_characters_only() {
        assert_eq!(encode("ann_b-c.d~"), "ann_b-c.d~");
        assert_eq!(encode("a b/ü?&"), "a%20b%2F%C3%BC%3F%26");
    }

    #[test]
    fn external_ids_follow_discourses_rule() {
        assert!(check_external_id("revshare-0123abcd").is_ok());
        for bad in ["", "a b", "x/y", &"a".repeat(51)] {
            assert!(check_external_id(bad).is_err(), "{bad}");
        }
    }
}
