//! Evaluation of a typed tree: one step per node, paid for with fuel, with checked arithmetic.

use super::check::{Arith, Compare, Node};
use super::{ExprError, ExprErrorKind, Facts};

/// A budget of evaluation steps. One policy evaluation shares one budget among all its
/// conditions, so a policy cannot cost more than its budget whatever its facts are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fuel(u32);

impl Fuel {
    /// A budget of `steps` steps.
    pub fn new(steps: u32) -> Self {
        Fuel(steps)
    }

    /// Steps left.
    pub fn left(self) -> u32 {
        self.0
    }
}

/// A value at run time: the checker has made sure each operation gets the kind it expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Value {
    Bool(bool),
    Num(i64),
}

struct Run<'a> {
    source: &'a str,
    facts: &'a dyn Facts,
    fuel: &'a mut Fuel,
}

impl Node {
    pub(super) fn holds(
        &self,
        source: &str,
        facts: &dyn Facts,
        fuel: &mut Fuel,
    ) -> Result<bool, ExprError> {
        let mut run = Run {
            source,
            facts,
            fuel,
        };
        match run.value(self)? {
            Value::Bool(b) => Ok(b),
            Value::Num(_) => unreachable!("the checker typed this node as a bool"),
        }
    }
}

/// Counts are at most the number of ballots, far below `i64::MAX`.
fn count(n: u64) -> Value {
    Value::Num(i64::try_from(n).unwrap_or(i64::MAX))
}

impl Run<'_> {
    fn fail(&self, at: usize, kind: ExprErrorKind) -> ExprError {
        ExprError::new(self.source, at, kind)
    }

    fn num(&mut self, node: &Node) -> Result<i64, ExprError> {
        match self.value(node)? {
            Value::Num(n) => Ok(n),
            Value::Bool(_) => unreachable!("the checker typed this node as a number"),
        }
    }

    fn bool(&mut self, node: &Node) -> Result<bool, ExprError> {
        match self.value(node)? {
            Value::Bool(b) => Ok(b),
            Value::Num(_) => unreachable!("the checker typed this node as a bool"),
        }
    }

    fn value(&mut self, node: &Node) -> Result<Value, ExprError> {
        if self.fuel.0 == 0 {
            return Err(self.fail(0, ExprErrorKind::OutOfFuel));
        }
        self.fuel.0 -= 1;
        Ok(match node {
            Node::Bool(b) => Value::Bool(*b),
            Node::Num(n) => Value::Num(*n),
            Node::Total => count(self.facts.total()),
            Node::Elapsed => Value::Num(self.facts.elapsed_ms()),
            Node::TotalAt(level) => count(self.facts.total_at(*level)),
            Node::Count(option) => count(self.facts.count(*option)),
            Node::CountAt(option, level) => count(self.facts.count_at(*option, *level)),
            Node::CountIn(option, group) => count(self.facts.count_in(*option, group)),
            Node::Not(inner) => Value::Bool(!self.bool(inner)?),
            Node::Neg(inner, at) => {
                let n = self.num(inner)?;
                Value::Num(
                    n.checked_neg()
                        .ok_or_else(|| self.fail(*at, ExprErrorKind::Overflow))?,
                )
            }
            Node::And(a, b) => Value::Bool(self.bool(a)? && self.bool(b)?),
            Node::Or(a, b) => Value::Bool(self.bool(a)? || self.bool(b)?),
            Node::Compare(op, a, b) => {
                let (x, y) = (self.value(a)?, self.value(b)?);
                Value::Bool(match (op, x, y) {
                    (Compare::Eq, x, y) => x == y,
                    (Compare::Ne, x, y) => x != y,
                    (op, Value::Num(x), Value::Num(y)) => match op {
                        Compare::Lt => x < y,
                        Compare::Le => x <= y,
                        Compare::Gt => x > y,
                        _ => x >= y,
                    },
                    _ => unreachable!("the checker lets only numbers be ordered"),
                })
            }
            Node::Arith(op, a, b, at) => {
                let (x, y) = (self.num(a)?, self.num(b)?);
                let result = match op {
                    Arith::Add => x.checked_add(y),
                    Arith::Sub => x.checked_sub(y),
                    Arith::Mul => x.checked_mul(y),
                };
                Value::Num(result.ok_or_else(|| self.fail(*at, ExprErrorKind::Overflow))?)
            }
        })
    }
}
