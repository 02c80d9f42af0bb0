//! Discourse polls as text: the `[poll …]` markup a vote is started with, the option ids
//! Discourse derives from it, and the reference (`{post_id}/{poll_name}`) a started poll is found
//! again by. Pure: no I/O, no clock.
//!
//! An option's id is what Discourse's Markdown engine computes while cooking the post: the md5,
//! in lowercase hex, of `JSON.stringify([text])`, where `text` is the list item's source text.
//! `serde_json` writes a one-string array exactly as `JSON.stringify` does (UTF-8 kept, the same
//! short escapes, `\u00XX` in lowercase for other control characters), so the ids agree.

use std::fmt;

use md5::{Digest, Md5};

use crate::domain::Timestamp;
use crate::voting::{Electorate, VoteRequest};

/// The name given to the polls this service starts (one poll per post).
pub const POLL_NAME: &str = "revshare";

/// Most characters in a poll option; Discourse keeps options to one line.
pub const MAX_OPTION_CHARS: usize = 200;

/// Highest trust level Discourse has.
pub const MAX_TRUST_LEVEL: u8 = 4;

/// The id Discourse gives the poll option with this text.
pub fn option_digest(text: &str) -> String {
    let json = serde_json::to_string(&[text]).expect("a string array always serialises");
    hex::encode(Md5::digest(json.as_bytes()))
}

/// Where a poll lives: the post that holds it and the poll's name in that post.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PollRef {
    /// The post's id.
    pub post_id: i64,
    /// The poll's name (`poll` unless the markup names it).
    pub name: String,
}

impl PollRef {
    /// Reads the `{post_id}/{poll_name}` form that [`fmt::Display`] writes.
    pub fn parse(text: &str) -> Option<PollRef> {
        let (post, name) = text.split_once('/')?;
        let post_id: i64 = post.parse().ok().filter(|id| *id > 0)?;
        valid_poll_name(name).then(|| PollRef {
            post_id,
            name: name.to_string(),
        })
    }
}

impl fmt::Display for PollRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.post_id, self.name)
    }
}

/// Whether a poll name can travel in markup and in a [`PollRef`] unchanged.
pub fn valid_poll_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Whether a group name can travel in a poll's `groups` attribute.
fn valid_group_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 60
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Why a vote request cannot become a Discourse poll.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PollSpecError(String);

/// A poll ready to be written as markup: single choice, public (voters are readable, which the
/// audit needs), results always shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollSpec {
    /// The poll's name in its post.
    pub name: String,
    /// The options, in order, each a valid one-line option.
    pub options: Vec<String>,
    /// When Discourse closes the poll by itself.
    pub closes_at: Option<Timestamp>,
    /// Groups whose members may vote (any of them); empty for everyone.
    pub groups: Vec<String>,
}

impl PollSpec {
    /// Checks a vote request and turns its electorate into Discourse groups. A minimum trust
    /// level N becomes the automatic group `trust_level_N`, which holds every member at N or
    /// above. Discourse lets the members of *any* listed group vote, so groups and a minimum trust
    /// level together (which would mean *both*) cannot be expressed and are refused.
    pub fn from_request(request: &VoteRequest) -> Result<PollSpec, PollSpecError> {
        if request.title.trim().is_empty() || request.title.contains(['\n', '\r']) {
            return Err(PollSpecError("the title must be one non-empty line".into()));
        }
        if request.options.len() < 2 {
            return Err(PollSpecError("a vote needs at least two options".into()));
        }
        for (i, option) in request.options.iter().enumerate() {
            check_option(option)
                .map_err(|why| PollSpecError(format!("option {}: {why}", i + 1)))?;
            if request.options[..i].contains(option) {
                return Err(PollSpecError(format!(
                    "option {} repeats `{option}`",
                    i + 1
                )));
            }
        }
        let groups = electorate_groups(&request.electorate)?;
        Ok(PollSpec {
            name: POLL_NAME.to_string(),
            options: request.options.clone(),
            closes_at: request.closes_at,
            groups,
        })
    }

    /// The `[poll …]` block, options as a bulleted list.
    pub fn markup(&self) -> String {
        let mut open = format!(
            "[poll type=regular results=always public=true chartType=bar name={}",
            self.name
        );
        if let Some(close) = self.closes_at {
            open.push_str(" close=");
            open.push_str(&close.to_rfc3339());
        }
        if !self.groups.is_empty() {
            open.push_str(" groups=");
            open.push_str(&self.groups.join(","));
        }
        open.push_str("]\n");
        for option in &self.options {
            open.push_str("* ");
            open.push_str(option);
            open.push('\n');
        }
        open.push_str("[/poll]");
        open
    }
}

fn electorate_groups(electorate: &Electorate) -> Result<Vec<String>, PollSpecError> {
    for group in &electorate.groups {
        if !valid_group_name(group) {
            return Err(PollSpecError(format!(
                "group `{group}` is not a Discourse group name (letters, digits, `_`, `-`, `.`)"
            )));
        }
    }
    match electorate.min_trust_level {
        None | Some(0) => Ok(electorate.groups.clone()),
        Some(level) if level > MAX_TRUST_LEVEL => Err(PollSpecError(format!(
            "Discourse trust levels go from 0 to {MAX_TRUST_LEVEL}, found {level}"
        ))),
        Some(_) if !electorate.groups.is_empty() => Err(PollSpecError(
            "Discourse lets any of a poll's groups vote, so groups and a minimum trust level \
             together cannot be expressed; give one of them"
                .into(),
        )),
        Some(level) => Ok(vec![format!("trust_level_{level}")]),
    }
}

/// Refuses option texts that Markdown would turn into something else than the plain list item
/// the option id is computed from.
fn check_option(option: &str) -> Result<(), &'static str> {
    if option.trim() != option || option.is_empty() {
        return Err("must be non-empty, without leading or trailing spaces");
    }
    if option.chars().count() > MAX_OPTION_CHARS {
        return Err("must be at most 200 characters");
    }
    if option.chars().any(char::is_control) || option.contains(['[', ']']) {
        return Err("must be one line without control characters or square brackets");
    }
    let first = option.chars().next().unwrap_or(' ');
    let numbered = option
        .split_once(['.', ')'])
        .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if matches!(first, '#' | '>' | '-' | '*' | '+' | '=' | '|' | '`' | '~') || numbered {
        return Err("must not start like a Markdown heading, quote, list or code block");
    }
    Ok(())
}

/// The option texts of the poll named `name` in a post's raw Markdown, in order. Used to give
/// each option id back its text (the cooked HTML would escape it).
pub fn option_texts(raw: &str, name: &str) -> Vec<String> {
    let mut inside = false;
    let mut texts = Vec::new();
    for line in raw.lines() {
        let line = line.trim();
        if !inside {
            if let Some(attrs) = line
                .strip_prefix("[poll")
                .and_then(|rest| rest.strip_suffix(']'))
            {
                let named = attrs
                    .split_whitespace()
                    .find_map(|a| a.strip_prefix("name="))
                    .map(|n| n.trim_matches('"'))
                    .unwrap_or("poll");
                inside = named == name;
            }
            continue;
        }
        if line.starts_with("[/poll]") {
            break;
        }
        let item = line
            .strip_prefix("* ")
            .or_else(|| line.strip_prefix("- "))
            .or_else(|| line.strip_prefix("+ "))
            .or_else(|| {
                let (n, rest) = line.split_once(". ")?;
                n.bytes().all(|b| b.is_ascii_digit()).then_some(rest)
            });
        if let Some(text) = item {
            texts.push(text.trim().to_string());
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(options: &[&str]) -> VoteRequest {
        VoteRequest {
            title: "Add ann to the default pool".into(),
            details: "Ann wrote the docs.".into(),
            options: options.iter().map(|o| o.to_string()).collect(),
            closes_at: None,
            electorate: Electorate::default(),
        }
    }

    #[test]
    fn the_option_id_of_yes_is_discourses() {
        assert_eq!(option_digest("Yes"), "277962ea3b8227e06ed3eb378fbdba0d");
    }

    #[test]
    fn option_ids_hash_the_json_array_as_javascript_writes_it() {
        // JSON.stringify(["Ünïcode \"quoted\" / slash"]) keeps UTF-8, escapes the quotes.
        let text = "Ünïcode \"quoted\" / slash";
        let json = "[\"Ünïcode \\\"quoted\\\" / slash\"]";
        assert_eq!(
            option_digest(text),
            hex::encode(Md5::digest(json.as_bytes()))
        );
    }

    #[test]
    fn poll_refs_round_trip_and_refuse_junk() {
        let r = PollRef {
            post_id: 812,
            name: POLL_NAME.into(),
        };
        assert_eq!(r.to_string(), "812/revshare");
        assert_eq!(PollRef::parse("812/revshare"), Some(r));
        for bad in [
            "", "812", "x/poll", "0/poll", "-3/poll", "12/", "12/a b", "12/a/b",
        ] {
            assert_eq!(PollRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn markup_lists_the_options_with_the_attributes() {
        let mut r = request(&["Yes", "No"]);
        r.closes_at = Some(Timestamp(1_767_225_600_000));
        r.electorate.groups = vec!["core".into(), "stewards".into()];
        let spec = PollSpec::from_request(&r).unwrap();
        assert_eq!(
            spec.markup(),
            "[poll type=regular results=always public=true chartType=bar name=revshare \
             close=2026-01-01T00:00:00.000Z groups=core,stewards]\n* Yes\n* No\n[/poll]"
        );
        assert_eq!(option_texts(&spec.markup(), POLL_NAME), ["Yes", "No"]);
    }

    #[test]
    fn a_minimum_trust_level_becomes_its_automatic_group() {
        let mut r = request(&["Yes", "No"]);
        r.electorate.min_trust_level = Some(2);
        assert_eq!(
            PollSpec::from_request(&r).unwrap().groups,
            ["trust_level_2"]
        );
        r.electorate.min_trust_level = Some(0);
        assert!(PollSpec::from_request(&r).unwrap().groups.is_empty());
        r.electorate.min_trust_level = Some(5);
        assert!(PollSpec::from_request(&r).is_err());
        r.electorate.min_trust_level = Some(1);
        r.electorate.groups = vec!["core".into()];
        assert!(PollSpec::from_request(&r).is_err(), "groups and a level");
    }

    #[test]
    fn options_that_markdown_would_change_are_refused() {
        for bad in [
            &["Yes"][..],
            &["Yes", "Yes"],
            &["Yes", ""],
            &["Yes", " No"],
            &["Yes", "# No"],
            &["Yes", "1. No"],
            &["Yes", "No [/poll]"],
            &["Yes", "No\nMaybe"],
            &["Yes", "- No"],
        ] {
            assert!(PollSpec::from_request(&request(bad)).is_err(), "{bad:?}");
        }
        let fine = request(&["Yes, add Ann", "No", "Wait 2. weeks", "Ann & Bob <3"]);
        assert!(PollSpec::from_request(&fine).is_ok());
    }

    #[test]
    fn option_texts_are_read_from_the_named_poll_only() {
        let raw = "Intro\n\n[poll name=other]\n* A\n* B\n[/poll]\n\n\
                   [poll type=regular name=revshare public=true]\n- Yes\n1. No\n[/poll]\n* after";
        assert_eq!(option_texts(raw, "revshare"), ["Yes", "No"]);
        assert_eq!(option_texts(raw, "other"), ["A", "B"]);
        assert!(option_texts(raw, "missing").is_empty());
        assert_eq!(option_texts("[poll]\n* One\n[/poll]", "poll"), ["One"]);
    }
}
