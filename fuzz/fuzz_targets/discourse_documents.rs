//! Documents of Discourse's API as a forum (or anything answering in its place) returns them:
//! posts with polls, voters, users, topics and error bodies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use revshare_oracle::sources::discourse::api::{
    ErrorDoc, PostDoc, TopicDoc, UserEnvelope, UserFieldsEnvelope, VotersDoc,
};
use revshare_oracle::sources::discourse::{option_labels, voters_match_counts};

fuzz_target!(|data: &[u8]| {
    if let Ok(post) = serde_json::from_slice::<PostDoc>(data) {
        for poll in &post.polls {
            let _ = option_labels(poll, post.raw.as_deref());
            let _ = voters_match_counts(poll, &Default::default());
        }
    }
    let _ = serde_json::from_slice::<VotersDoc>(data);
    let _ = serde_json::from_slice::<UserEnvelope>(data);
    let _ = serde_json::from_slice::<UserFieldsEnvelope>(data);
    let _ = serde_json::from_slice::<TopicDoc>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = ErrorDoc::parse(text).summary("fallback");
    }
});
