//! Message templates with named placeholders (`{member}`, `{wallet}`, `{link}`, …), checked when a
//! policy is read against what the rule's triggers and the moment of use can fill, so that
//! rendering never meets an unknown or empty placeholder. `{{` and `}}` write braces.

use std::fmt;

/// A named value a template may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder {
    /// The member the proposal is about.
    Member,
    /// The member's new wallet, as a payment pointer.
    Wallet,
    /// The member's previous wallet.
    OldWallet,
    /// The link to the vote on its platform.
    Link,
    /// The proposed policy's name.
    Policy,
    /// keccak256 of the proposed policy's text.
    SourceHash,
    /// What an admin's request asks for.
    Request,
    /// The admin's note.
    Note,
    /// `passed` or `failed`.
    Outcome,
    /// The conditions that closed and decided the vote.
    Reason,
}

const ALL: [Placeholder; 10] = [
    Placeholder::Member,
    Placeholder::Wallet,
    Placeholder::OldWallet,
    Placeholder::Link,
    Placeholder::Policy,
    Placeholder::SourceHash,
    Placeholder::Request,
    Placeholder::Note,
    Placeholder::Outcome,
    Placeholder::Reason,
];

impl Placeholder {
    /// The name written between braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Member => "member",
            Placeholder::Wallet => "wallet",
            Placeholder::OldWallet => "old_wallet",
            Placeholder::Link => "link",
            Placeholder::Policy => "policy",
            Placeholder::SourceHash => "source_hash",
            Placeholder::Request => "request",
            Placeholder::Note => "note",
            Placeholder::Outcome => "outcome",
            Placeholder::Reason => "reason",
        }
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Value(Placeholder),
}

/// A checked template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// Longest template accepted, in bytes.
pub const MAX_TEMPLATE_BYTES: usize = 8192;

impl Template {
    /// Parses `text`, accepting only the placeholders in `allowed`.
    pub fn parse(text: &str, allowed: &[Placeholder]) -> Result<Self, String> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(format!(
                "a template may be {MAX_TEMPLATE_BYTES} bytes long, this one is {}",
                text.len()
            ));
        }
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            literal.push_str(&rest[..i]);
            let tail = &rest[i..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                literal.push_str(&tail[..1]);
                rest = &tail[2..];
                continue;
            }
            if tail.starts_with('}') {
                return Err("a lone `}`: write `}}` for a brace".into());
            }
            let Some(end) = tail.find('}') else {
                return Err("a `{` without its `}`: write `{{` for a brace".into());
            };
            let name = &tail[1..end];
            let placeholder = ALL.into_iter().find(|p| p.name() == name).ok_or_else(|| {
                format!(
                    "unknown placeholder `{{{name}}}`; this template may use {}",
                    list(allowed)
                )
            })?;
            if !allowed.contains(&placeholder) {
                return Err(format!(
                    "placeholder {placeholder} has no value here; this template may use {}",
                    list(allowed)
                ));
            }
            if !literal.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Value(placeholder));
            rest = &tail[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            pieces.push(Piece::Text(literal));
        }
        Ok(Template { pieces })
    }

    /// The text with each placeholder replaced by what `value` gives; a placeholder the parser
    /// accepted always has a value, and an empty text stands in should a caller not give one.
    pub fn render(&self, value: impl Fn(Placeholder) -> Option<String>) -> String {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Text(text) => text.clone(),
                Piece::Value(p) => value(*p).unwrap_or_default(),
            })
            .collect()
    }
}

fn list(allowed: &[Placeholder]) -> String {
    if allowed.is_empty() {
        return "no placeholders".into();
    }
    allowed
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_render_and_braces_escape() {
        let template = Template::parse(
            "{{vote}} on {member}'s wallet {wallet}: {link}",
            &[Placeholder::Member, Placeholder::Wallet, Placeholder::Link],
        )
        .unwrap();
        let text = template.render(|p| Some(format!("<{}>", p.name())));
        assert_eq!(text, "{vote} on <member>'s wallet <wallet>: <link>");
    }

    #[test]
    fn unknown_and_unavailable_placeholders_are_refused() {
        let err = Template::parse("hi {membr}", &[Placeholder::Member]).unwrap_err();
        assert!(err.contains("unknown placeholder `{membr}`"), "{err}");
        assert!(err.contains("may use {member}"), "{err}");
        let err = Template::parse("see {link}", &[Placeholder::Member]).unwrap_err();
        assert!(err.contains("{link} has no value here"), "{err}");
        assert!(Template::parse("a { b", &[]).is_err());
        assert!(Template::parse("a } b", &[]).is_err());
    }
}
