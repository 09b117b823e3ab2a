//! The functions of a Rust source file, found without a parser: enough for
//! `checker diff` to compare a learner's code with the reference's function by
//! function.
//!
//! One pass over the text skips comments, strings and character literals, counts
//! braces, and notes each `fn` outside a function body together with the `impl`,
//! `trait` and `mod` blocks around it. It needs no more of Rust than that: a
//! function it cannot place is not lost, it stays in the code outside functions,
//! which `diff` compares too.

use std::ops::Range;

/// Where a function sits, as the stub's steps name it: `Store::get` is `get` in an
/// `impl Store`, `Display for Response` is `fmt` in `impl Display for Response`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FnKey {
    /// The `mod` blocks around it, outermost first (`tests` for a unit test).
    pub modules: Vec<String>,
    /// The trait of the `impl` or `trait` block it is in.
    pub trait_name: Option<String>,
    /// The type of the `impl` block it is in.
    pub self_type: Option<String>,
    pub name: String,
}

impl FnKey {
    /// `Store::get`, `Display for Response::fmt`, `tests::plan_is_seeded`.
    pub fn label(&self) -> String {
        let mut parts = self.modules.clone();
        match (&self.trait_name, &self.self_type) {
            (Some(t), Some(ty)) => parts.push(format!("{t} for {ty}")),
            (Some(t), None) => parts.push(t.clone()),
            (None, Some(ty)) => parts.push(ty.clone()),
            (None, None) => {}
        }
        parts.push(self.name.clone());
        parts.join("::")
    }
}

#[derive(Debug, Clone)]
pub struct Function {
    pub key: FnKey,
    /// From its first attribute or keyword (`pub`, `fn`) to its closing brace; doc
    /// comments above it are left out, so that the stub's contracts and the
    /// reference's comments do not show as differences.
    pub span: Range<usize>,
}

/// What a token is, for the little the scan needs to know.
#[derive(Debug, Clone, PartialEq)]
enum Tok<'a> {
    Ident(&'a str),
    Open,
    Close,
    Semi,
    Lt,
    Gt,
    /// Anything else: punctuation, numbers, literals.
    Other,
}

/// The tokens of `src`, each with where it starts and ends; comments are left out,
/// strings and character literals are one `Other` each.
fn tokens(src: &str) -> Vec<(Range<usize>, Tok<'_>)> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let ident_char = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'/' && next == Some(b'/') {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if b == b'/' && next == Some(b'*') {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if b == b'"' {
            let start = i;
            i = skip_string(bytes, i + 1);
            out.push((start..i, Tok::Other));
        } else if b == b'\'' {
            let start = i;
            // A character literal ('a', '\n', '\'') or a lifetime ('a).
            let rest = &src[i + 1..];
            let mut chars = rest.char_indices();
            match chars.next() {
                Some((_, '\\')) => {
                    // The escaped character may itself be a quote: look past it.
                    let close = rest
                        .get(2..)
                        .and_then(|r| r.find('\''))
                        .map_or(rest.len(), |c| c + 3);
                    i += 1 + close;
                }
                Some((_, _)) if chars.next().is_some_and(|(_, c)| c == '\'') => {
                    let width = rest.chars().next().map_or(1, char::len_utf8);
                    i += 2 + width;
                }
                _ => {
                    i += 1;
                    while i < bytes.len() && ident_char(bytes[i]) {
                        i += 1;
                    }
                }
            }
            out.push((start..i.min(src.len()), Tok::Other));
        } else if ident_char(b) && !b.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && ident_char(bytes[i]) {
                i += 1;
            }
            let word = &src[start..i];
            // Raw strings: r"..", r#".."#, br#".."#.
            if matches!(word, "r" | "br") && matches!(bytes.get(i), Some(b'"' | b'#')) {
                let hashes = bytes[i..].iter().take_while(|&&c| c == b'#').count();
                if bytes.get(i + hashes) == Some(&b'"') {
                    let close = format!("\"{}", "#".repeat(hashes));
                    let body = i + hashes + 1;
                    i = src[body..]
                        .find(&close)
                        .map_or(src.len(), |c| body + c + close.len());
                    out.push((start..i, Tok::Other));
                    continue;
                }
            }
            if word == "b" && bytes.get(i) == Some(&b'"') {
                i = skip_string(bytes, i + 1);
                out.push((start..i, Tok::Other));
                continue;
            }
            out.push((start..i, Tok::Ident(word)));
        } else {
            let tok = match b {
                b'{' => Tok::Open,
                b'}' => Tok::Close,
                b';' => Tok::Semi,
                b'<' => Tok::Lt,
                b'>' => Tok::Gt,
                b'-' | b'=' if next == Some(b'>') => {
                    // `->` and `=>` are arrows, not a closing angle bracket.
                    out.push((i..i + 2, Tok::Other));
                    i += 2;
                    continue;
                }
                _ => Tok::Other,
            };
            // A character of its own; UTF-8 continuation bytes never start one.
            let width = src[i..].chars().next().map_or(1, char::len_utf8);
            out.push((i..i + width, tok));
            i += width;
        }
    }
    out
}

/// The offset just past the closing quote of a string whose body starts at `i`.
fn skip_string(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// What an open brace opened.
enum Block {
    Module(String),
    Impl {
        trait_name: Option<String>,
        self_type: Option<String>,
    },
    Other,
}

/// Every function outside a function body, in the order they appear.
pub fn functions(src: &str) -> Vec<Function> {
    let toks = tokens(src);
    let mut found = Vec::new();
    let mut blocks: Vec<Block> = Vec::new();
    // Where the item being read began, and the function it declares, if any.
    let mut item_start: Option<usize> = None;
    let mut pending_fn: Option<String> = None;
    let mut k = 0;
    while k < toks.len() {
        let (range, tok) = &toks[k];
        let at = &range.start;
        if item_start.is_none() && !matches!(tok, Tok::Close | Tok::Semi) {
            item_start = Some(*at);
        }
        match tok {
            Tok::Ident("fn") if pending_fn.is_none() => {
                if let Some((_, Tok::Ident(name))) = toks.get(k + 1) {
                    pending_fn = Some((*name).to_owned());
                    k += 1;
                }
            }
            Tok::Ident(word @ ("impl" | "trait" | "mod")) if pending_fn.is_none() => {
                let Some(open) = toks[k..]
                    .iter()
                    .position(|(_, t)| matches!(t, Tok::Open | Tok::Semi))
                else {
                    break;
                };
                let header = &toks[k + 1..k + open];
                let block = match *word {
                    "impl" => impl_block(header),
                    "trait" => Block::Impl {
                        trait_name: first_ident(header),
                        self_type: None,
                    },
                    _ => Block::Module(first_ident(header).unwrap_or_default()),
                };
                k += open;
                if toks[k].1 == Tok::Open {
                    blocks.push(block);
                }
                item_start = None;
            }
            Tok::Open => {
                // A function's body is skipped whole: functions inside it are its own.
                if let Some(name) = pending_fn.take() {
                    let close = matching_close(&toks, k);
                    let end = toks.get(close).map_or(src.len(), |(r, _)| r.end);
                    found.push(Function {
                        key: key_in(&blocks, name),
                        span: line_start(src, item_start.unwrap_or(*at))..end,
                    });
                    k = close;
                    item_start = None;
                } else {
                    blocks.push(Block::Other);
                    item_start = None;
                }
            }
            Tok::Close => {
                blocks.pop();
                item_start = None;
            }
            Tok::Semi => {
                // A declaration without a body, such as a trait's required method.
                pending_fn = None;
                item_start = None;
            }
            _ => {}
        }
        k += 1;
    }
    found
}

/// `at`, moved back to the start of its line if only indentation comes before it
/// there, so that a function's first line keeps its indentation.
fn line_start(src: &str, at: usize) -> usize {
    let before = &src[..at];
    let start = before.rfind('\n').map_or(0, |n| n + 1);
    if before[start..].trim().is_empty() {
        start
    } else {
        at
    }
}

/// The index of the brace that closes the one at `open`.
fn matching_close(toks: &[(Range<usize>, Tok<'_>)], open: usize) -> usize {
    let mut depth = 0;
    for (k, (_, tok)) in toks.iter().enumerate().skip(open) {
        match tok {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if depth == 0 {
                    return k;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

fn first_ident(header: &[(Range<usize>, Tok<'_>)]) -> Option<String> {
    header.iter().find_map(|(_, t)| match t {
        Tok::Ident(w) => Some((*w).to_owned()),
        _ => None,
    })
}

/// `impl<T> fmt::Display for Wrapper<T> where ...`: the trait is the last name
/// before `for`, the type the last name after it, both outside angle brackets.
fn impl_block(header: &[(Range<usize>, Tok<'_>)]) -> Block {
    let mut depth = 0i32;
    let (mut before_for, mut after_for, mut saw_for) = (None, None, false);
    for (_, tok) in header {
        match tok {
            Tok::Lt => depth += 1,
            Tok::Gt => depth -= 1,
            Tok::Ident("where") if depth == 0 => break,
            Tok::Ident("for") if depth == 0 => saw_for = true,
            Tok::Ident(w) if depth == 0 && !matches!(*w, "dyn" | "mut" | "unsafe") => {
                let name = Some((*w).to_owned());
                if saw_for {
                    after_for = name;
                } else {
                    before_for = name;
                }
            }
            _ => {}
        }
    }
    if saw_for {
        Block::Impl {
            trait_name: before_for,
            self_type: after_for,
        }
    } else {
        Block::Impl {
            trait_name: None,
            self_type: before_for,
        }
    }
}

fn key_in(blocks: &[Block], name: String) -> FnKey {
    let mut key = FnKey {
        modules: Vec::new(),
        trait_name: None,
        self_type: None,
        name,
    };
    for block in blocks {
        match block {
            Block::Module(m) => key.modules.push(m.clone()),
            Block::Impl {
                trait_name,
                self_type,
            } => {
                key.trait_name = trait_name.clone();
                key.self_type = self_type.clone();
            }
            Block::Other => {}
        }
    }
    key
}

/// The source with every function taken out (each leaves an empty line), so that
/// what is left (types, fields, imports, constants) can be compared on its own.
pub fn outside_functions(src: &str, functions: &[Function]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for f in functions {
        out.push_str(&src[at..f.span.start]);
        at = f.span.end;
    }
    out.push_str(&src[at..]);
    out
}

/// The code without comments and spacing: two texts equal under this differ only in
/// comments, blank lines or layout.
pub fn normalized(code: &str) -> String {
    let words: Vec<&str> = tokens(code).into_iter().map(|(r, _)| &code[r]).collect();
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = r##"
//! A file with every shape the scan must place.
use std::fmt;

/// A doc comment that is not part of the span.
pub fn plan(seed: u64) -> Vec<u64> {
    let s = "a } brace in a string";
    let c = '}';
    let r = r#"raw } "# ;
    fn inner() {}
    vec![seed]
}

impl<'a, T: Clone> Store<'a, T> where T: Default {
    pub fn get(&self, key: &str) -> Option<&'a T> {
        /* a { comment */ None
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{}}")
    }
}

trait Hook {
    fn on_write(&mut self);
    fn saved(&mut self) {}
}

#[cfg(test)]
mod tests {
    #[test]
    fn it_works() {}
}
"##;

    #[test]
    fn every_function_is_placed_with_its_impl() {
        let found = functions(SRC);
        let labels: Vec<String> = found.iter().map(|f| f.key.label()).collect();
        assert_eq!(
            labels,
            [
                "plan",
                "Store::get",
                "Display for Response::fmt",
                "Hook::saved",
                "tests::it_works"
            ]
        );
        let plan = &SRC[found[0].span.clone()];
        assert!(plan.starts_with("pub fn plan") && plan.ends_with("vec![seed]\n}"));
        let test = &SRC[found[4].span.clone()];
        assert!(test.starts_with("    #[test]"), "{test}");
    }

    #[test]
    fn what_is_outside_functions_stays() {
        let rest = outside_functions(SRC, &functions(SRC));
        assert!(rest.contains("use std::fmt;"));
        assert!(rest.contains("fn on_write(&mut self);"));
        assert!(!rest.contains("vec![seed]"));
    }

    #[test]
    fn comments_and_layout_do_not_count() {
        assert_eq!(
            normalized("fn a() {\n    // why\n    b(1, \"x y\");\n}"),
            normalized("fn a() { b(1, \"x y\"); }")
        );
        assert_ne!(normalized("b(\"x y\")"), normalized("b(\"x  y\")"));
    }
}
