//! The intent marker: a line the service appends to a vote's details so that a backend can
//! recognise a vote it already started. Platforms have no idempotency keys; when a start times
//! out, or the service dies between sending a start and recording its answer, the next attempt
//! looks for the marker on the platform before starting the vote again, so a vote lands once.

use std::fmt;

/// The marker's fixed beginning, which no ordinary text starts a line with.
const PREFIX: &str = "*revshare-oracle vote ";

/// One intent's marker, such as `*revshare-oracle vote forum/12 · 5f0c9a7e1d2b3c4a*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntentMarker(String);

impl IntentMarker {
    /// The marker of vote `vote` of `community`, made unique by the intent's random `key`.
    pub fn new(community: &str, vote: i64, key: &str) -> Self {
        IntentMarker(format!("{PREFIX}{community}/{vote} · {key}*"))
    }

    /// The marker as it appears on its own line.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The details with the marker as their last paragraph, after a rule.
    pub fn append_to(&self, details: &str) -> String {
        let details = details.trim_end();
        if details.is_empty() {
            self.0.clone()
        } else {
            format!("{details}\n\n---\n{}", self.0)
        }
    }

    /// The marker in `details`, when they carry one (the last one, as `append_to` puts it last).
    pub fn find_in(details: &str) -> Option<IntentMarker> {
        details
            .lines()
            .rev()
            .map(str::trim)
            .find(|line| {
                line.starts_with(PREFIX) && line.ends_with('*') && line.len() > PREFIX.len() + 1
            })
            .map(|line| IntentMarker(line.to_string()))
    }
}

impl fmt::Display for IntentMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marker_appended_is_found_again() {
        let marker = IntentMarker::new("forum", 12, "5f0c9a7e1d2b3c4a");
        let details = marker.append_to("Shall we add **Ann**?\n\n");
        assert_eq!(
            details,
            "Shall we add **Ann**?\n\n---\n*revshare-oracle vote forum/12 · 5f0c9a7e1d2b3c4a*"
        );
        assert_eq!(IntentMarker::find_in(&details), Some(marker.clone()));
        assert_eq!(marker.append_to(""), marker.as_str());
        assert_eq!(IntentMarker::find_in(marker.as_str()), Some(marker));
    }

    #[test]
    fn text_without_a_marker_has_none() {
        assert_eq!(IntentMarker::find_in("Shall we add Ann?"), None);
        assert_eq!(IntentMarker::find_in("*revshare-oracle vote *"), None);
        assert_eq!(IntentMarker::find_in(""), None);
    }
}
