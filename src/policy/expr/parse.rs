//! Text to syntax tree: a hand-written lexer and a precedence-climbing parser that bound what they
//! accept (source length, nesting depth) before any work grows with the input.
//!
//! It knows nothing of types or of which names exist; the checker does.

use super::{ExprError, ExprErrorKind, MAX_DEPTH, MAX_SOURCE_BYTES};

/// A token with the byte offset it starts at.
#[derive(Clone, Debug, PartialEq)]
struct Token {
    kind: Tok,
    at: usize,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Int(i64),
    Duration(i64),
    Text(String),
    Ident(String),
    Open,
    Close,
    Comma,
    And,
    Or,
    Not,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Plus,
    Minus,
    Star,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Int(n) => format!("the number {n}"),
            Tok::Duration(_) => "a duration".into(),
            Tok::Text(t) => format!("the text {t:?}"),
            Tok::Ident(name) => format!("`{name}`"),
            Tok::Open => "`(`".into(),
            Tok::Close => "`)`".into(),
            Tok::Comma => "`,`".into(),
            Tok::And => "`&&`".into(),
            Tok::Or => "`||`".into(),
            Tok::Not => "`!`".into(),
            Tok::Eq => "`==`".into(),
            Tok::Ne => "`!=`".into(),
            Tok::Lt => "`<`".into(),
            Tok::Le => "`<=`".into(),
            Tok::Gt => "`>`".into(),
            Tok::Ge => "`>=`".into(),
            Tok::Plus => "`+`".into(),
            Tok::Minus => "`-`".into(),
            Tok::Star => "`*`".into(),
            Tok::End => "the end of the expression".into(),
        }
    }
}

/// A binary operator as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BinOp {
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
}

impl BinOp {
    pub(super) fn symbol(self) -> &'static str {
        match self {
            BinOp::And => "&&",
            BinOp::Or => "||",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
        }
    }
}

/// The syntax tree, each node with the byte offset it starts at.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Ast {
    Bool(bool, usize),
    Int(i64, usize),
    Duration(i64, usize),
    Text(String, usize),
    Name(String, usize),
    Call(String, Vec<Ast>, usize),
    Not(Box<Ast>, usize),
    Neg(Box<Ast>, usize),
    Binary(BinOp, Box<Ast>, Box<Ast>, usize),
}

impl Ast {
    pub(super) fn at(&self) -> usize {
        match self {
            Ast::Bool(_, at)
            | Ast::Int(_, at)
            | Ast::Duration(_, at)
            | Ast::Text(_, at)
            | Ast::Name(_, at)
            | Ast::Call(_, _, at)
            | Ast::Not(_, at)
            | Ast::Neg(_, at)
            | Ast::Binary(_, _, _, at) => *at,
        }
    }
}

/// Parses one expression, refusing anything longer than [`MAX_SOURCE_BYTES`] or nested deeper
/// than [`MAX_DEPTH`].
pub(super) fn parse(source: &str) -> Result<Ast, ExprError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(ExprError::new(
            source,
            0,
            ExprErrorKind::TooLong {
                bytes: source.len(),
            },
        ));
    }
    let tokens = lex(source)?;
    let mut parser = Parser {
        source,
        tokens,
        next: 0,
    };
    let ast = parser.expression(0)?;
    let end = parser.peek();
    if end.kind != Tok::End {
        return Err(parser.unexpected("an operator or the end of the expression"));
    }
    Ok(ast)
}

fn lex(source: &str) -> Result<Vec<Token>, ExprError> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let at = i;
        let two = |next: u8| bytes.get(i + 1) == Some(&next);
        let (kind, len) = match c {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i += 1;
                continue;
            }
            b'(' => (Tok::Open, 1),
            b')' => (Tok::Close, 1),
            b',' => (Tok::Comma, 1),
            b'+' => (Tok::Plus, 1),
            b'-' => (Tok::Minus, 1),
            b'*' => (Tok::Star, 1),
            b'&' if two(b'&') => (Tok::And, 2),
            b'|' if two(b'|') => (Tok::Or, 2),
            b'=' if two(b'=') => (Tok::Eq, 2),
            b'!' if two(b'=') => (Tok::Ne, 2),
            b'!' => (Tok::Not, 1),
            b'<' if two(b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if two(b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'"' | b'\'' => lex_text(source, i)?,
            b'0'..=b'9' => lex_number(source, i)?,
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let len = bytes[i..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                (Tok::Ident(source[i..i + len].to_string()), len)
            }
            _ => {
                let found = source[i..].chars().next().unwrap_or('?');
                return Err(ExprError::new(
                    source,
                    at,
                    ExprErrorKind::Syntax(format!("unexpected character {found:?}")),
                ));
            }
        };
        tokens.push(Token { kind, at });
        i += len;
    }
    tokens.push(Token {
        kind: Tok::End,
        at: source.len(),
    });
    Ok(tokens)
}

/// A quoted text without escapes: option and group names never need them.
fn lex_text(source: &str, start: usize) -> Result<(Tok, usize), ExprError> {
    let quote = source.as_bytes()[start] as char;
    let rest = &source[start + 1..];
    match rest.find(quote) {
        Some(end) if !rest[..end].contains('\\') => {
            Ok((Tok::Text(rest[..end].to_string()), end + 2))
        }
        Some(_) => Err(ExprError::new(
            source,
            start,
            ExprErrorKind::Syntax("texts take no `\\` escapes".into()),
        )),
        None => Err(ExprError::new(
            source,
            start,
            ExprErrorKind::Syntax(format!("this text has no closing {quote}")),
        )),
    }
}

/// A whole number, or a duration: a number directly followed by `s`, `m`, `h` or `d`.
fn lex_number(source: &str, start: usize) -> Result<(Tok, usize), ExprError> {
    let bytes = source.as_bytes();
    let digits = bytes[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let too_large = || {
        ExprError::new(
            source,
            start,
            ExprErrorKind::Syntax("this number is too large".into()),
        )
    };
    let value: i64 = source[start..start + digits]
        .parse()
        .map_err(|_| too_large())?;
    let suffix_len = bytes[start + digits..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    let suffix = &source[start + digits..start + digits + suffix_len];
    let unit_ms: i64 = match suffix {
        "" => return Ok((Tok::Int(value), digits)),
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => {
            return Err(ExprError::new(
                source,
                start + digits,
                ExprErrorKind::Syntax(format!("unknown duration unit `{other}`; use s, m, h or d")),
            ));
        }
    };
    let ms = value.checked_mul(unit_ms).ok_or_else(too_large)?;
    Ok((Tok::Duration(ms), digits + suffix_len))
}

struct Parser<'a> {
    source: &'a str,
    tokens: Vec<Token>,
    next: usize,
}

/// Binding power of each binary operator: higher binds tighter. Comparisons do not chain.
fn binding(tok: &Tok) -> Option<(BinOp, u8)> {
    Some(match tok {
        Tok::Or => (BinOp::Or, 1),
        Tok::And => (BinOp::And, 2),
        Tok::Eq => (BinOp::Eq, 3),
        Tok::Ne => (BinOp::Ne, 3),
        Tok::Lt => (BinOp::Lt, 3),
        Tok::Le => (BinOp::Le, 3),
        Tok::Gt => (BinOp::Gt, 3),
        Tok::Ge => (BinOp::Ge, 3),
        Tok::Plus => (BinOp::Add, 4),
        Tok::Minus => (BinOp::Sub, 4),
        Tok::Star => (BinOp::Mul, 5),
        _ => return None,
    })
}

impl Parser<'_> {
    fn peek(&self) -> &Token {
        &self.tokens[self.next]
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens[self.next].clone();
        if token.kind != Tok::End {
            self.next += 1;
        }
        token
    }

    fn unexpected(&self, expected: &str) -> ExprError {
        let token = self.peek();
        ExprError::new(
            self.source,
            token.at,
            ExprErrorKind::Syntax(format!(
                "expected {expected}, found {}",
                token.kind.describe()
            )),
        )
    }

    fn deeper(&self, depth: usize, at: usize) -> Result<usize, ExprError> {
        if depth >= MAX_DEPTH {
            return Err(ExprError::new(
                self.source,
                at,
                ExprErrorKind::TooDeep { max: MAX_DEPTH },
            ));
        }
        Ok(depth + 1)
    }

    /// Parses operators of binding power above `min`, then what follows.
    fn expression_above(&mut self, min: u8, depth: usize) -> Result<Ast, ExprError> {
        let mut left = self.unary(depth)?;
        while let Some((op, power)) = binding(&self.peek().kind) {
            if power <= min {
                break;
            }
            let at = left.at();
            let op_at = self.bump().at;
            let depth = self.deeper(depth, op_at)?;
            let right = self.expression_above(power, depth)?;
            if power == 3
                && let Some((next, 3)) = binding(&self.peek().kind)
            {
                return Err(ExprError::new(
                    self.source,
                    self.peek().at,
                    ExprErrorKind::Syntax(format!(
                        "comparisons do not chain: put `{}` in parentheses",
                        next.symbol()
                    )),
                ));
            }
            left = Ast::Binary(op, Box::new(left), Box::new(right), at);
        }
        Ok(left)
    }

    fn expression(&mut self, depth: usize) -> Result<Ast, ExprError> {
        self.expression_above(0, depth)
    }

    fn unary(&mut self, depth: usize) -> Result<Ast, ExprError> {
        let token = self.peek().clone();
        match token.kind {
            Tok::Not => {
                self.bump();
                let depth = self.deeper(depth, token.at)?;
                Ok(Ast::Not(Box::new(self.unary(depth)?), token.at))
            }
            Tok::Minus => {
                self.bump();
                let depth = self.deeper(depth, token.at)?;
                Ok(Ast::Neg(Box::new(self.unary(depth)?), token.at))
            }
            _ => self.primary(depth),
        }
    }

    fn primary(&mut self, depth: usize) -> Result<Ast, ExprError> {
        let token = self.bump();
        match token.kind {
            Tok::Int(n) => Ok(Ast::Int(n, token.at)),
            Tok::Duration(ms) => Ok(Ast::Duration(ms, token.at)),
            Tok::Text(text) => Ok(Ast::Text(text, token.at)),
            Tok::Ident(name) if name == "true" => Ok(Ast::Bool(true, token.at)),
            Tok::Ident(name) if name == "false" => Ok(Ast::Bool(false, token.at)),
            Tok::Ident(name) if self.peek().kind == Tok::Open => {
                self.bump();
                let depth = self.deeper(depth, token.at)?;
                let mut args = Vec::new();
                if self.peek().kind != Tok::Close {
                    loop {
                        args.push(self.expression(depth)?);
                        if self.peek().kind == Tok::Comma {
                            self.bump();
                        } else {
                            break;
                        }
                    }
                }
                if self.peek().kind != Tok::Close {
                    return Err(self.unexpected("`,` or `)`"));
                }
                self.bump();
                Ok(Ast::Call(name, args, token.at))
            }
            Tok::Ident(name) => Ok(Ast::Name(name, token.at)),
            Tok::Open => {
                let depth = self.deeper(depth, token.at)?;
                let inner = self.expression(depth)?;
                if self.peek().kind != Tok::Close {
                    return Err(self.unexpected("`)`"));
                }
                self.bump();
                Ok(inner)
            }
            _ => {
                self.next -= usize::from(token.kind != Tok::End);
                Err(self.unexpected("a value, a name or `(`"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_bind_by_precedence() {
        let ast = parse("a || b && 1 + 2 * 3 >= 4").unwrap();
        let Ast::Binary(BinOp::Or, _, right, _) = ast else {
            panic!("`||` binds loosest: {ast:?}")
        };
        let Ast::Binary(BinOp::And, _, cmp, _) = *right else {
            panic!("then `&&`")
        };
        let Ast::Binary(BinOp::Ge, sum, _, _) = *cmp else {
            panic!("then `>=`")
        };
        assert!(matches!(*sum, Ast::Binary(BinOp::Add, _, _, _)));
    }

    #[test]
    fn durations_carry_their_unit() {
        assert_eq!(parse("24h").unwrap(), Ast::Duration(86_400_000, 0));
        assert_eq!(parse("90s").unwrap(), Ast::Duration(90_000, 0));
        let err = parse("3w").unwrap_err();
        assert!(
            err.to_string().contains("unknown duration unit `w`"),
            "{err}"
        );
    }

    #[test]
    fn chained_comparisons_are_refused() {
        let err = parse("1 < 2 < 3").unwrap_err();
        assert!(err.to_string().contains("do not chain"), "{err}");
        assert_eq!(err.column(), 7);
    }

    #[test]
    fn syntax_errors_say_where() {
        let err = parse("count(\"approve\" >= 1").unwrap_err();
        assert!(err.to_string().contains("expected `,` or `)`"), "{err}");
        let err = parse("total >=").unwrap_err();
        assert_eq!(err.column(), 9, "{err}");
        let err = parse("total # 1").unwrap_err();
        assert!(
            err.to_string().contains("unexpected character '#'"),
            "{err}"
        );
    }

    #[test]
    fn deep_nesting_is_refused_before_it_costs_a_stack() {
        let deep = format!("{}1{}", "(".repeat(10_000), ")".repeat(10_000));
        let err = parse(&deep[..MAX_SOURCE_BYTES.min(deep.len())]).unwrap_err();
        assert!(matches!(err.kind(), ExprErrorKind::TooDeep { .. }), "{err}");
        let negations = format!("{}true", "!".repeat(MAX_DEPTH + 1));
        assert!(matches!(
            parse(&negations).unwrap_err().kind(),
            ExprErrorKind::TooDeep { .. }
        ));
    }
}
