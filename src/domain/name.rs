//! Names that travel in URL paths and database keys: community slugs, pool names, topic ids,
//! member ids and tags. Each is parsed once at the edge so nothing downstream has to escape it.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} must be {rule}, found `{found}`")]
pub struct NameError {
    /// Which kind of name (community, pool, …).
    pub kind: &'static str,
    /// The rule, in words.
    pub rule: &'static str,
    /// The refused input, cut short.
    pub found: String,
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $rule:literal, $max:expr, $valid:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Parses and validates the name.
            pub fn parse(input: &str) -> Result<Self, NameError> {
                let valid: fn(&str) -> bool = $valid;
                if input.is_empty() || input.len() > $max || !valid(input) {
                    return Err(NameError {
                        kind: $kind,
                        rule: $rule,
                        found: input.chars().take(80).collect(),
                    });
                }
                Ok(Self(input.to_string()))
            }

            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                $name::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn is_slug(s: &str) -> bool {
    let first = s.as_bytes()[0];
    (first.is_ascii_lowercase() || first.is_ascii_digit())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn is_platform_token(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

name_type!(
    /// A community's id in URLs: lower-case letters, digits, `-` and `_`.
    CommunitySlug,
    "a community slug",
    "1 to 63 lower-case letters, digits, `-` or `_`, starting with a letter or digit",
    63,
    is_slug
);

name_type!(
    /// A pool's name within a community (`default`, `dev`, `support`).
    PoolName,
    "a pool name",
    "1 to 63 lower-case letters, digits, `-` or `_`, starting with a letter or digit",
    63,
    is_slug
);

name_type!(
    /// A topic's id on the community's platform (Discourse topic ids are numbers; others may not be).
    TopicId,
    "a topic id",
    "1 to 64 ASCII letters, digits, `-`, `_` or `.`",
    64,
    is_platform_token
);

name_type!(
    /// A member's username on the community's platform.
    MemberId,
    "a member id",
    "1 to 64 ASCII letters, digits, `-`, `_` or `.`",
    64,
    is_platform_token
);

name_type!(
    /// A topic tag, as Discourse spells it.
    Tag,
    "a tag",
    "1 to 100 lower-case letters, digits, `-` or `_`",
    100,
    is_slug
);

name_type!(
    /// A policy's name within a community (`revshare`, `constitution`).
    PolicyName,
    "a policy name",
    "1 to 63 lower-case letters, digits, `-` or `_`, starting with a letter or digit",
    63,
    is_slug
);

name_type!(
    /// The name of a rule or a condition within a policy, as decisions cite it.
    RuleName,
    "a rule or condition name",
    "1 to 63 lower-case letters, digits, `-` or `_`, starting with a letter or digit",
    63,
    is_slug
);

/// A short human label for a pool entry (a person's or project's name); shown, never parsed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Label(String);

impl Label {
    /// Longest label accepted.
    pub const MAX_CHARS: usize = 100;

    /// Accepts 1 to 100 characters without control characters.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        let count = input.chars().count();
        if count == 0 || count > Self::MAX_CHARS || input.chars().any(char::is_control) {
            return Err(NameError {
                kind: "a label",
                rule: "1 to 100 characters without control characters",
                found: input.chars().take(80).collect(),
            });
        }
        Ok(Label(input.to_string()))
    }

    /// The label as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Label {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Label::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_accept_lower_case_and_refuse_the_rest() {
        assert!(CommunitySlug::parse("my-forum_2").is_ok());
        for bad in ["", "My", "-x", "a/b", "a b", &"x".repeat(64)] {
            assert!(
                CommunitySlug::parse(bad).is_err(),
                "`{bad}` should be refused"
            );
        }
    }

    #[test]
    fn tags_must_start_with_a_letter_or_digit() {
        assert!(Tag::parse("dev").is_ok());
        assert!(Tag::parse("-dev").is_err());
        assert!(Tag::parse("Dev").is_err());
    }

    #[test]
    fn member_ids_allow_discourse_usernames() {
        assert!(MemberId::parse("Jane.Doe_1").is_ok());
        assert!(MemberId::parse("jane doe").is_err());
    }

    #[test]
    fn labels_refuse_control_characters() {
        assert!(Label::parse("Core team").is_ok());
        assert!(Label::parse("a\nb").is_err());
        assert!(Label::parse("").is_err());
    }
}
