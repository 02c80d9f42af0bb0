//! Syntax tree to typed tree: resolves every name against what a vote offers, checks every
//! operand's type, and refuses a reference to nothing (an unknown name, function or option) with
//! its position.

use super::parse::{Ast, BinOp};
use super::{ExprError, ExprErrorKind, MAX_TRUST_LEVEL, Type};

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Compare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// An arithmetic operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Arith {
    Add,
    Sub,
    Mul,
}

/// A typed node. Numbers and durations (in milliseconds) are both `i64` at run time; the checker
/// has already kept them apart.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Node {
    Bool(bool),
    Num(i64),
    Total,
    Elapsed,
    TotalAt(u8),
    Count(usize),
    CountAt(usize, u8),
    CountIn(usize, String),
    Not(Box<Node>),
    Neg(Box<Node>, usize),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Compare(Compare, Box<Node>, Box<Node>),
    Arith(Arith, Box<Node>, Box<Node>, usize),
}

impl Node {
    /// Steps one evaluation takes: one per node.
    pub(super) fn cost(&self) -> u32 {
        1 + match self {
            Node::Bool(_)
            | Node::Num(_)
            | Node::Total
            | Node::Elapsed
            | Node::TotalAt(_)
            | Node::Count(_)
            | Node::CountAt(..)
            | Node::CountIn(..) => 0,
            Node::Not(inner) | Node::Neg(inner, _) => inner.cost(),
            Node::And(a, b) | Node::Or(a, b) | Node::Compare(_, a, b) | Node::Arith(_, a, b, _) => {
                a.cost().saturating_add(b.cost())
            }
        }
    }
}

struct Checker<'a> {
    source: &'a str,
    options: &'a [String],
}

/// Checks `ast`, resolving options against `options`; returns the typed tree and its type.
pub(super) fn check(
    source: &str,
    ast: &Ast,
    options: &[String],
) -> Result<(Node, Type), ExprError> {
    Checker { source, options }.node(ast)
}

impl Checker<'_> {
    fn error(&self, at: usize, kind: ExprErrorKind) -> ExprError {
        ExprError::new(self.source, at, kind)
    }

    fn type_error(&self, at: usize, message: String) -> ExprError {
        self.error(at, ExprErrorKind::Type(message))
    }

    fn node(&self, ast: &Ast) -> Result<(Node, Type), ExprError> {
        match ast {
            Ast::Bool(b, _) => Ok((Node::Bool(*b), Type::Bool)),
            Ast::Int(n, _) => Ok((Node::Num(*n), Type::Int)),
            Ast::Duration(ms, _) => Ok((Node::Num(*ms), Type::Duration)),
            Ast::Text(_, at) => Err(self.type_error(
                *at,
                "a text can only name an option or a group in a function call".into(),
            )),
            Ast::Name(name, at) => match name.as_str() {
                "total" => Ok((Node::Total, Type::Int)),
                "elapsed" => Ok((Node::Elapsed, Type::Duration)),
                _ => Err(self.error(
                    *at,
                    ExprErrorKind::Unknown(format!(
                        "unknown name `{name}`; the names are `total` and `elapsed`"
                    )),
                )),
            },
            Ast::Call(name, args, at) => self.call(name, args, *at),
            Ast::Not(inner, at) => {
                let node = self.expect(inner, Type::Bool, "`!`", *at)?;
                Ok((Node::Not(Box::new(node)), Type::Bool))
            }
            Ast::Neg(inner, at) => {
                let (node, ty) = self.node(inner)?;
                if ty != Type::Int && ty != Type::Duration {
                    return Err(
                        self.type_error(*at, format!("`-` takes an int or a duration, found {ty}"))
                    );
                }
                Ok((Node::Neg(Box::new(node), *at), ty))
            }
            Ast::Binary(op, left, right, at) => self.binary(*op, left, right, *at),
        }
    }

    fn expect(&self, ast: &Ast, want: Type, what: &str, at: usize) -> Result<Node, ExprError> {
        let (node, ty) = self.node(ast)?;
        if ty != want {
            return Err(self.type_error(at, format!("{what} takes a {want}, found {ty}")));
        }
        Ok(node)
    }

    fn binary(
        &self,
        op: BinOp,
        left: &Ast,
        right: &Ast,
        at: usize,
    ) -> Result<(Node, Type), ExprError> {
        let what = format!("`{}`", op.symbol());
        if matches!(op, BinOp::And | BinOp::Or) {
            let a = Box::new(self.expect(left, Type::Bool, &what, left.at())?);
            let b = Box::new(self.expect(right, Type::Bool, &what, right.at())?);
            let node = if op == BinOp::And {
                Node::And(a, b)
            } else {
                Node::Or(a, b)
            };
            return Ok((node, Type::Bool));
        }
        let (a, left_ty) = self.node(left)?;
        let (b, right_ty) = self.node(right)?;
        if left_ty != right_ty {
            return Err(self.type_error(
                at,
                format!("{what} needs two operands of one type, found {left_ty} and {right_ty}"),
            ));
        }
        let (a, b) = (Box::new(a), Box::new(b));
        let compare = |c| Ok((Node::Compare(c, a.clone(), b.clone()), Type::Bool));
        let ordered = left_ty == Type::Int || left_ty == Type::Duration;
        match op {
            BinOp::Eq => compare(Compare::Eq),
            BinOp::Ne => compare(Compare::Ne),
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge if !ordered => Err(self.type_error(
                at,
                format!("{what} compares ints or durations, found {left_ty}"),
            )),
            BinOp::Lt => compare(Compare::Lt),
            BinOp::Le => compare(Compare::Le),
            BinOp::Gt => compare(Compare::Gt),
            BinOp::Ge => compare(Compare::Ge),
            BinOp::Add | BinOp::Sub if ordered => {
                let arith = if op == BinOp::Add {
                    Arith::Add
                } else {
                    Arith::Sub
                };
                Ok((Node::Arith(arith, a, b, at), left_ty))
            }
            BinOp::Mul if left_ty == Type::Int => {
                Ok((Node::Arith(Arith::Mul, a, b, at), Type::Int))
            }
            _ => Err(self.type_error(at, format!("{what} cannot take {left_ty} operands"))),
        }
    }

    fn call(&self, name: &str, args: &[Ast], at: usize) -> Result<(Node, Type), ExprError> {
        let arity = |n: usize, shape: &str| {
            if args.len() == n {
                Ok(())
            } else {
                Err(self.type_error(
                    at,
                    format!("`{name}` takes {shape}, found {} arguments", args.len()),
                ))
            }
        };
        let node = match name {
            "count" => {
                arity(1, "(option)")?;
                Node::Count(self.option(&args[0])?)
            }
            "count_at" => {
                arity(2, "(option, trust level)")?;
                Node::CountAt(self.option(&args[0])?, self.level(&args[1])?)
            }
            "total_at" => {
                arity(1, "(trust level)")?;
                Node::TotalAt(self.level(&args[0])?)
            }
            "count_in" => {
                arity(2, "(option, group)")?;
                Node::CountIn(self.option(&args[0])?, self.group(&args[1])?)
            }
            _ => {
                return Err(self.error(
                    at,
                    ExprErrorKind::Unknown(format!(
                        "unknown function `{name}`; the functions are `count`, `count_at`, \
                         `total_at` and `count_in`"
                    )),
                ));
            }
        };
        Ok((node, Type::Int))
    }

    fn option(&self, arg: &Ast) -> Result<usize, ExprError> {
        let Ast::Text(text, at) = arg else {
            return Err(self.type_error(arg.at(), "an option is named by a quoted text".into()));
        };
        self.options.iter().position(|o| o == text).ok_or_else(|| {
            self.error(
                *at,
                ExprErrorKind::Unknown(format!(
                    "the vote has no option {text:?}; its options are {}",
                    self.options
                        .iter()
                        .map(|o| format!("{o:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
            )
        })
    }

    fn level(&self, arg: &Ast) -> Result<u8, ExprError> {
        match arg {
            Ast::Int(n, _) if (0..=i64::from(MAX_TRUST_LEVEL)).contains(n) => Ok(*n as u8),
            Ast::Int(n, at) => Err(self.error(
                *at,
                ExprErrorKind::Unknown(format!(
                    "trust levels go from 0 to {MAX_TRUST_LEVEL}, found {n}"
                )),
            )),
            other => Err(self.type_error(
                other.at(),
                "a trust level is a whole number written out".into(),
            )),
        }
    }

    fn group(&self, arg: &Ast) -> Result<String, ExprError> {
        match arg {
            Ast::Text(text, _) if !text.is_empty() => Ok(text.clone()),
            other => Err(self.type_error(other.at(), "a group is named by a quoted text".into())),
        }
    }
}
