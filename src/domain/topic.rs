//! What the service knows of a topic, for context-aware splits: who wrote it, who took part, and
//! its tags. The Discourse source fills these in; admins and tests may too.

use serde::{Deserialize, Serialize};

use super::name::{MemberId, Tag};

/// The facts of one topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicFacts {
    /// The member who opened the topic.
    pub author: MemberId,
    /// Members who posted in it (the author may be listed too; it counts once).
    #[serde(default)]
    pub participants: Vec<MemberId>,
    /// Its tags, in the platform's order.
    #[serde(default)]
    pub tags: Vec<Tag>,
}
