//! The condition language of policies: a small, typed, total expression language.
//!
//! Why not CEL: the CEL crates for Rust bound their parser but not their evaluation (no cost
//! budget, no step limit, and comprehensions over list literals nest to exponential work), and the
//! maintained one brings an ANTLR runtime and a generated parser of several thousand lines. A vote
//! condition needs counts, durations, comparisons and logic; this language has exactly those, no
//! loops, no recursion and no I/O, so its cost is known before it runs.
//!
//! ```text
//! expr    := expr "||" expr | expr "&&" expr | sum cmp sum | sum | "!" expr
//! cmp     := "==" | "!=" | "<" | "<=" | ">" | ">="        (comparisons do not chain)
//! sum     := sum ("+" | "-") product | product
//! product := product "*" unary | unary
//! unary   := "-" unary | "!" unary | "(" expr ")" | literal | name | name "(" args ")"
//! literal := 123 | 24h | 30m | 90s | 2d | true | false | "text" | 'text'
//! ```
//!
//! Names: `total` (ballots counted), `elapsed` (time since the vote opened); functions
//! `count(option)`, `count_at(option, level)`, `total_at(level)` (ballots of voters at or above a
//! trust level at the time of evaluation) and `count_in(option, group)`. Types are `bool`, `int`,
//! `duration` and `text`; a condition is a `bool`. Option names, levels and groups are literals, so
//! a reference to an option the vote does not have is refused when the policy is read.
//!
//! Bounds: at most [`MAX_SOURCE_BYTES`] of text, [`MAX_DEPTH`] levels of nesting and
//! [`MAX_COST`] steps (one per node; every name and function is a constant-time look-up), and
//! evaluation burns [`Fuel`] so that no caller can run one past its budget. Arithmetic is checked:
//! an overflow is an error with its position, never a wrapped number.

mod check;
mod eval;
mod parse;

use std::fmt;

pub use eval::Fuel;

/// Longest expression accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 1024;
/// Deepest nesting of operators, calls and parentheses accepted.
pub const MAX_DEPTH: usize = 32;
/// Most evaluation steps one expression may take.
pub const MAX_COST: u32 = 128;
/// Highest trust level a platform gives (Discourse's are 0 to 4).
pub const MAX_TRUST_LEVEL: u8 = 4;

/// Reads a duration written as in expressions (`24h`, `90m`, `2d`), in milliseconds.
pub fn duration_ms(text: &str) -> Option<i64> {
    match parse::parse(text.trim()) {
        Ok(parse::Ast::Duration(ms, _)) => Some(ms),
        _ => None,
    }
}

/// The type of a value in the language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// `true` or `false`.
    Bool,
    /// A whole number.
    Int,
    /// A length of time, such as `24h`.
    Duration,
    /// A quoted text, used only to name options and groups.
    Text,
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Type::Bool => "bool",
            Type::Int => "int",
            Type::Duration => "duration",
            Type::Text => "text",
        })
    }
}

/// What the evaluator asks of the facts: each answer is a look-up, never a scan, so an
/// expression's cost does not grow with the number of ballots.
pub trait Facts {
    /// Ballots counted.
    fn total(&self) -> u64;
    /// Ballots of voters whose trust level is at least `level`.
    fn total_at(&self, level: u8) -> u64;
    /// Ballots that chose the option at this index of the vote's options.
    fn count(&self, option: usize) -> u64;
    /// Ballots choosing the option, of voters whose trust level is at least `level`.
    fn count_at(&self, option: usize, level: u8) -> u64;
    /// Ballots choosing the option, of voters in `group`.
    fn count_in(&self, option: usize, group: &str) -> u64;
    /// Milliseconds since the vote opened.
    fn elapsed_ms(&self) -> i64;
}

/// A checked condition: parsed, typed as `bool`, every name resolved, its cost known.
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    source: String,
    root: check::Node,
    cost: u32,
}

impl Condition {
    /// Parses and checks `source` against the vote's `options`.
    pub fn compile(source: &str, options: &[String]) -> Result<Self, ExprError> {
        let ast = parse::parse(source)?;
        let (root, ty) = check::check(source, &ast, options)?;
        if ty != Type::Bool {
            return Err(ExprError::new(
                source,
                0,
                ExprErrorKind::Type(format!("a condition must be a bool, found {ty}")),
            ));
        }
        let cost = root.cost();
        if cost > MAX_COST {
            return Err(ExprError::new(
                source,
                0,
                ExprErrorKind::TooCostly {
                    cost,
                    max: MAX_COST,
                },
            ));
        }
        Ok(Condition {
            source: source.to_string(),
            root,
            cost,
        })
    }

    /// The text as written in the policy.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The steps one evaluation takes.
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// Whether the condition holds for these facts, burning one unit of `fuel` per step.
    pub fn holds(&self, facts: &dyn Facts, fuel: &mut Fuel) -> Result<bool, ExprError> {
        self.root.holds(&self.source, facts, fuel)
    }
}

/// What is wrong with an expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprErrorKind {
    /// The text is not an expression.
    Syntax(String),
    /// Longer than [`MAX_SOURCE_BYTES`].
    TooLong {
        /// Its length in bytes.
        bytes: usize,
    },
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// More steps than [`MAX_COST`].
    TooCostly {
        /// Its cost.
        cost: u32,
        /// The limit.
        max: u32,
    },
    /// A name, function, option or level that does not exist.
    Unknown(String),
    /// Operands of the wrong type.
    Type(String),
    /// Arithmetic left the range of 64-bit integers.
    Overflow,
    /// The evaluation used up its fuel.
    OutOfFuel,
}

impl fmt::Display for ExprErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExprErrorKind::Syntax(m) | ExprErrorKind::Type(m) | ExprErrorKind::Unknown(m) => {
                f.write_str(m)
            }
            ExprErrorKind::TooLong { bytes } => write!(
                f,
                "an expression may be {MAX_SOURCE_BYTES} bytes long, this one is {bytes}"
            ),
            ExprErrorKind::TooDeep { max } => {
                write!(f, "nested more than {max} levels deep")
            }
            ExprErrorKind::TooCostly { cost, max } => write!(
                f,
                "too costly to evaluate: {cost} steps, the limit is {max}"
            ),
            ExprErrorKind::Overflow => f.write_str("the arithmetic overflows"),
            ExprErrorKind::OutOfFuel => f.write_str("the evaluation ran out of its step budget"),
        }
    }
}

/// An error in one expression, with the expression and the position (1-based column) it is at.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{shown}` at column {column}: {kind}", shown = self.shown(), column = self.column())]
pub struct ExprError {
    text: String,
    offset: usize,
    kind: ExprErrorKind,
}

impl ExprError {
    fn new(source: &str, offset: usize, kind: ExprErrorKind) -> Self {
        ExprError {
            text: source.to_string(),
            offset,
            kind,
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> &ExprErrorKind {
        &self.kind
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.text
    }

    /// The 1-based column (in characters) the error is at.
    pub fn column(&self) -> usize {
        let end = self.offset.min(self.text.len());
        self.text
            .char_indices()
            .take_while(|(i, _)| *i < end)
            .count()
            + 1
    }

    /// The expression as shown in a message: cut short when very long.
    fn shown(&self) -> String {
        const SHOWN: usize = 160;
        if self.text.chars().count() > SHOWN {
            format!("{}…", self.text.chars().take(SHOWN).collect::<String>())
        } else {
            self.text.clone()
        }
    }
}

#[cfg(test)]
mod tests;
