//! The parts of Discourse's API documents this service reads, as Discourse's serialisers write
//! them (`PostSerializer` with the poll plugin's `polls`, `PollSerializer`,
//! `PollOptionSerializer`, `UserNameSerializer`, `UserSerializer`, `UserFieldSerializer`) and its
//! error body (`{"errors": […], "error_type": …, "extras": …}`). Unknown fields are ignored, so
//! newer Discourse versions read the same.

use serde::Deserialize;

/// A post (`GET /posts/{id}.json`, and the answer to `POST /posts.json`).
#[derive(Clone, Debug, Deserialize)]
pub struct PostDoc {
    /// The post's id.
    pub id: i64,
    /// Its topic's id.
    pub topic_id: i64,
    /// Its topic's slug, for its URL.
    #[serde(default)]
    pub topic_slug: Option<String>,
    /// Its number in the topic.
    #[serde(default)]
    pub post_number: Option<i64>,
    /// The Markdown source (present in `GET /posts/{id}.json`).
    #[serde(default)]
    pub raw: Option<String>,
    /// The polls in the post, when it has any.
    #[serde(default)]
    pub polls: Vec<PollDoc>,
}

/// A poll, as `PollSerializer` writes it.
#[derive(Clone, Debug, Deserialize)]
pub struct PollDoc {
    /// Its name in the post.
    pub name: String,
    /// `regular`, `multiple`, `number` or `ranked_choice`.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// `open` or `closed`.
    pub status: String,
    /// True for a public poll (whose voters can be read); absent for a secret one.
    #[serde(default)]
    pub public: bool,
    /// The options with their ids and (when the reader may see results) their counts.
    pub options: Vec<PollOptionDoc>,
    /// How many distinct voters.
    #[serde(default)]
    pub voters: Option<u64>,
    /// When Discourse closes it by itself.
    #[serde(default)]
    pub close: Option<String>,
    /// Groups whose members may vote, comma-separated.
    #[serde(default)]
    pub groups: Option<String>,
}

/// One option of a poll.
#[derive(Clone, Debug, Deserialize)]
pub struct PollOptionDoc {
    /// The md5 id (see `poll::option_digest`).
    pub id: String,
    /// The option's cooked HTML.
    pub html: String,
    /// Votes for it; absent when the reader may not see results yet.
    #[serde(default)]
    pub votes: Option<u64>,
}

/// One page of `GET /polls/voters.json`: voters by option id.
#[derive(Clone, Debug, Deserialize)]
pub struct VotersDoc {
    /// Option id to the voters on this page, in the order they voted.
    pub voters: std::collections::BTreeMap<String, Vec<VoterDoc>>,
}

/// A voter, as `UserNameSerializer` writes them.
#[derive(Clone, Debug, Deserialize)]
pub struct VoterDoc {
    /// The user's id.
    pub id: i64,
    /// Their username.
    pub username: String,
}

/// `GET /u/{username}.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct UserEnvelope {
    /// The user.
    pub user: UserDoc,
}

/// A user's facts this service reads.
#[derive(Clone, Debug, Deserialize)]
pub struct UserDoc {
    /// The user's id.
    pub id: i64,
    /// Their username.
    pub username: String,
    /// Their trust level, 0 to 4.
    pub trust_level: u8,
    /// The groups they belong to (automatic ones such as `trust_level_1` included).
    #[serde(default)]
    pub groups: Vec<GroupDoc>,
    /// Custom user fields by field id (as a string), when the API user may see them.
    #[serde(default)]
    pub user_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

/// A group a user belongs to.
#[derive(Clone, Debug, Deserialize)]
pub struct GroupDoc {
    /// The group's name.
    pub name: String,
}

/// `GET /admin/customize/user_fields.json`.
#[derive(Clone, Debug, Deserialize)]
pub struct UserFieldsEnvelope {
    /// Every custom user field of the site.
    pub user_fields: Vec<UserFieldDoc>,
}

/// A custom user field's definition.
#[derive(Clone, Debug, Deserialize)]
pub struct UserFieldDoc {
    /// Its id, the key of `user_fields` in user documents and webhooks.
    pub id: i64,
    /// Its name as the admin set it.
    pub name: String,
}

/// A topic (the answer to `GET /t/external_id/{id}.json`, after its redirect).
#[derive(Clone, Debug, Deserialize)]
pub struct TopicDoc {
    /// The topic's id.
    pub id: i64,
    /// Its slug.
    #[serde(default)]
    pub slug: Option<String>,
    /// Its posts, of which the first is the topic's opening post.
    #[serde(default)]
    pub post_stream: Option<PostStreamDoc>,
}

/// The posts a topic document carries.
#[derive(Clone, Debug, Deserialize)]
pub struct PostStreamDoc {
    /// The first posts of the topic.
    pub posts: Vec<PostDoc>,
}

/// Discourse's error body.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ErrorDoc {
    /// What went wrong, in words.
    #[serde(default)]
    pub errors: Vec<String>,
    /// `invalid_access`, `not_found`, `rate_limit`, `invalid_parameters`, …
    #[serde(default)]
    pub error_type: Option<String>,
    /// For `rate_limit`: `wait_seconds`.
    #[serde(default)]
    pub extras: Option<ErrorExtras>,
}

/// The extras of a rate-limit error.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ErrorExtras {
    /// Seconds to wait before trying again.
    #[serde(default)]
    pub wait_seconds: Option<f64>,
}

impl ErrorDoc {
    /// Reads an error body; anything else gives an empty one.
    pub fn parse(body: &str) -> ErrorDoc {
        serde_json::from_str(body).unwrap_or_default()
    }

    /// The errors in one line, cut to a readable length.
    pub fn summary(&self, fallback: &str) -> String {
        let text = if self.errors.is_empty() {
            fallback.to_string()
        } else {
            self.errors.join("; ")
        };
        let mut cut: String = text.chars().take(300).collect();
        if cut.len() < text.len() {
            cut.push('…');
        }
        match &self.error_type {
            Some(kind) => format!("{cut} ({kind})"),
            None => cut,
        }
    }
}
