//! The type expressions of a schema field: `f64`, `[f64; 9]`, `[[f64; 3]; 3]`,
//! `string<64>`, `vec<f32, 2048>`, `vec<string<32>, MAX_JOINTS>`, `Header`.
//!
//! ```text
//! type := scalar | Name | "[" type ";" size "]" | "string" "<" size ">" | "vec" "<" type "," size ">"
//! size := digits | NAME          (a constant of the message or a template parameter)
//! scalar := u8 | u16 | u32 | u64 | i8 | i16 | i32 | i64 | f32 | f64 | flag
//! ```

use std::fmt;

use shm_comm::Scalar;

/// A size as written: a number or the name of a constant or parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SizeExpr {
    /// A literal.
    Lit(u64),
    /// A constant of the message or a template parameter.
    Name(String),
}

impl fmt::Display for SizeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeExpr::Lit(n) => write!(f, "{n}"),
            SizeExpr::Name(n) => f.write_str(n),
        }
    }
}

/// A type as written, before names are resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TyExpr {
    /// A number or a flag.
    Scalar(Scalar),
    /// A message by name.
    Named(String),
    /// `[T; N]`.
    Array(Box<TyExpr>, SizeExpr),
    /// `string<N>`.
    Str(SizeExpr),
    /// `vec<T, N>`.
    Vec(Box<TyExpr>, SizeExpr),
}

impl fmt::Display for TyExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TyExpr::Scalar(s) => f.write_str(s.name()),
            TyExpr::Named(n) => f.write_str(n),
            TyExpr::Array(t, n) => write!(f, "[{t}; {n}]"),
            TyExpr::Str(n) => write!(f, "string<{n}>"),
            TyExpr::Vec(t, n) => write!(f, "vec<{t}, {n}>"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Int(u64),
    Punct(char),
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "`{s}`"),
            Tok::Int(n) => write!(f, "`{n}`"),
            Tok::Punct(c) => write!(f, "`{c}`"),
            Tok::End => f.write_str("the end"),
        }
    }
}

fn lex(src: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == ' ' || c == '\t' {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let n = digits
                .parse::<u64>()
                .ok()
                .filter(|&n| n <= u64::from(u32::MAX))
                .ok_or_else(|| format!("`{digits}` is too large (at most {})", u32::MAX))?;
            out.push(Tok::Int(n));
        } else if "[];<>,".contains(c) {
            out.push(Tok::Punct(c));
            i += 1;
        } else {
            return Err(format!("unexpected character `{c}`"));
        }
    }
    out.push(Tok::End);
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos]
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Tok::Punct(p) if p == c => Ok(()),
            t => Err(format!("expected `{c}`, found {t}")),
        }
    }

    fn size(&mut self) -> Result<SizeExpr, String> {
        match self.next() {
            Tok::Int(n) => Ok(SizeExpr::Lit(n)),
            Tok::Ident(s) => Ok(SizeExpr::Name(s)),
            t => Err(format!(
                "expected a size (a number or a constant), found {t}"
            )),
        }
    }

    fn ty(&mut self) -> Result<TyExpr, String> {
        match self.next() {
            Tok::Punct('[') => {
                let elem = self.ty()?;
                self.expect(';')?;
                let n = self.size()?;
                self.expect(']')?;
                Ok(TyExpr::Array(Box::new(elem), n))
            }
            Tok::Ident(s) if s == "string" => {
                self.expect('<')?;
                let n = self.size()?;
                self.expect('>')?;
                Ok(TyExpr::Str(n))
            }
            Tok::Ident(s) if s == "vec" => {
                self.expect('<')?;
                let elem = self.ty()?;
                self.expect(',')?;
                let n = self.size()?;
                self.expect('>')?;
                Ok(TyExpr::Vec(Box::new(elem), n))
            }
            Tok::Ident(s) => Ok(match Scalar::from_name(&s) {
                Some(sc) => TyExpr::Scalar(sc),
                None => TyExpr::Named(s),
            }),
            t => Err(format!("expected a type, found {t}")),
        }
    }
}

/// Parses a type expression.
pub fn parse(src: &str) -> Result<TyExpr, String> {
    let fail = |why: String| {
        format!("invalid type `{src}`: {why} (types are written like `f64`, `[f64; 9]`, `string<32>`, `vec<f32, 64>` or a message name)")
    };
    let toks = lex(src).map_err(fail)?;
    let mut p = Parser { toks, pos: 0 };
    let t = p.ty().map_err(fail)?;
    match p.peek() {
        Tok::End => Ok(t),
        t => Err(fail(format!("unexpected {t} after the type"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        for (src, shown) in [
            ("f64", "f64"),
            ("flag", "flag"),
            ("[f64;9]", "[f64; 9]"),
            ("[[ f64 ; 3 ] ; 3]", "[[f64; 3]; 3]"),
            ("string<64>", "string<64>"),
            ("vec<string<32>,MAX_JOINTS>", "vec<string<32>, MAX_JOINTS>"),
            ("vec<[f32; 4], 16>", "vec<[f32; 4], 16>"),
            ("Header", "Header"),
        ] {
            assert_eq!(parse(src).unwrap().to_string(), shown, "{src}");
        }
    }

    #[test]
    fn reports_syntax_errors() {
        for (src, why) in [
            ("", "expected a type, found the end"),
            ("[f64 9]", "expected `;`, found `9`"),
            ("string<>", "expected a size"),
            ("vec<f64>", "expected `,`, found `>`"),
            ("f64 x", "unexpected `x` after the type"),
            ("f64*2", "unexpected character `*`"),
            ("[u8; 99999999999]", "too large"),
        ] {
            let e = parse(src).unwrap_err();
            assert!(e.contains(why), "{src}: {e}");
        }
    }
}
