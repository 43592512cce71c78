//! The forward-only reader over raw JSON text: tokens, keys and elements
//! in order, every string and number borrowed from the text.

use super::string_end;
use std::borrow::Cow;

/// One scalar or the start of a container, as read from the text.
#[derive(Debug, Clone, Copy)]
pub enum Token<'a> {
    /// `{` was consumed; read the members with [`Reader::next_key`].
    Object,
    /// `[` was consumed; read the elements with [`Reader::next_element`].
    Array,
    /// A string (the text between the quotes, escapes not yet decoded).
    Str(JsonStr<'a>),
    /// A number literal, checked against the JSON grammar.
    Num(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// A JSON string as it stands in the text.
#[derive(Debug, Clone, Copy)]
pub struct JsonStr<'a> {
    /// The characters between the quotes, escapes as written.
    pub(super) raw: &'a str,
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// Its length in the text, between the quotes, escapes as written.
    pub fn len_as_written(&self) -> usize {
        self.raw.len()
    }

    /// The characters between the quotes, escapes as written: what to
    /// paste to write the same string again.
    pub fn as_written(&self) -> &'a str {
        self.raw
    }

    /// The decoded string; borrowed unless it has escapes. `None` for an
    /// escape JSON does not allow (a lone surrogate, say).
    #[inline]
    pub fn decode(&self) -> Option<Cow<'a, str>> {
        if self.escaped {
            unescape(self.raw).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(self.raw))
        }
    }
}

/// The characters of a string with escapes, decoded by serde_json.
#[cold]
fn unescape(raw: &str) -> Option<String> {
    let mut quoted = String::with_capacity(raw.len() + 2);
    quoted.push('"');
    quoted.push_str(raw);
    quoted.push('"');
    serde_json::from_str::<String>(&quoted).ok()
}

/// The reader: a position in the text.
pub struct Reader<'a> {
    pub(super) text: &'a str,
    pub(super) at: usize,
    /// Whether whitespace was skipped since [`Reader::take_spaced`].
    spaced: bool,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Reader<'a> {
        Reader {
            text,
            at: 0,
            spaced: false,
        }
    }

    #[inline]
    pub(super) fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Skips whitespace.
    #[inline]
    pub fn skip_space(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
            self.spaced = true;
        }
    }

    /// The byte offset the reader is at.
    pub fn position(&self) -> usize {
        self.at
    }

    /// Moves to byte offset `at` (one [`Reader::position`] gave), to read
    /// a value again.
    pub fn seek(&mut self, at: usize) {
        self.at = at.min(self.text.len());
    }

    /// The text from `from` to the reader's position.
    pub fn since(&self, from: usize) -> &'a str {
        self.text.get(from..self.at).unwrap_or_default()
    }

    /// Whether whitespace was skipped since the last call: a value read
    /// without any is already compact and can be used as it stands.
    pub fn take_spaced(&mut self) -> bool {
        std::mem::take(&mut self.spaced)
    }

    /// The next byte after whitespace, not consumed.
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.byte()
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.skip_space();
        self.at == self.text.len()
    }

    #[inline]
    pub(super) fn literal(&mut self, word: &str) -> Option<()> {
        let end = self.at + word.len();
        (self.text.get(self.at..end)? == word).then(|| self.at = end)
    }

    /// Reads the next value's token: a scalar whole, or the opening of a
    /// container.
    #[inline]
    pub fn value(&mut self) -> Option<Token<'a>> {
        self.skip_space();
        match self.byte()? {
            b'{' => {
                self.at += 1;
                Some(Token::Object)
            }
            b'[' => {
                self.at += 1;
                Some(Token::Array)
            }
            b'"' => self.string().map(Token::Str),
            b't' => self.literal("true").map(|()| Token::Bool(true)),
            b'f' => self.literal("false").map(|()| Token::Bool(false)),
            b'n' => self.literal("null").map(|()| Token::Null),
            b'-' | b'0'..=b'9' => self.number().map(Token::Num),
            _ => None,
        }
    }

    #[inline]
    pub(super) fn string(&mut self) -> Option<JsonStr<'a>> {
        let (end, escaped) = string_end(self.text.as_bytes(), self.at)?;
        // The quotes are ASCII, so both ends are character boundaries.
        let raw = self.text.get(self.at + 1..end)?;
        self.at = end + 1;
        Some(JsonStr { raw, escaped })
    }

    /// A number literal: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    #[inline]
    pub(super) fn number(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let start = self.at;
        let mut i = start;
        let digits = |i: &mut usize| {
            let from = *i;
            while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i > from
        };
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        if bytes.get(i) == Some(&b'0') {
            i += 1;
        } else if !digits(&mut i) {
            return None;
        }
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            if !digits(&mut i) {
                return None;
            }
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(bytes.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !digits(&mut i) {
                return None;
            }
        }
        self.at = i;
        self.text.get(start..i)
    }

    /// Inside an object: the next member's key (its `:` consumed), or
    /// `Some(None)` at the closing brace. `first` tracks whether a comma
    /// is due.
    #[inline]
    pub fn next_key(&mut self, first: &mut bool) -> Option<Option<JsonStr<'a>>> {
        self.skip_space();
        if self.byte()? == b'}' {
            self.at += 1;
            return Some(None);
        }
        if !std::mem::take(first) {
            (self.byte()? == b',').then(|| self.at += 1)?;
            self.skip_space();
        }
        (self.byte()? == b'"').then_some(())?;
        let key = self.string()?;
        self.skip_space();
        (self.byte()? == b':').then(|| self.at += 1)?;
        Some(Some(key))
    }

    /// Inside an array: whether another element follows (the closing
    /// bracket is consumed when not).
    #[inline]
    pub fn next_element(&mut self, first: &mut bool) -> Option<bool> {
        self.skip_space();
        if self.byte()? == b']' {
            self.at += 1;
            return Some(false);
        }
        if !std::mem::take(first) {
            (self.byte()? == b',').then(|| self.at += 1)?;
        }
        Some(true)
    }

    /// Skips the rest of a value whose token has been read.
    pub fn skip(&mut self, token: Token<'a>) -> Option<()> {
        let mut first = true;
        match token {
            Token::Object => {
                while self.next_key(&mut first)?.is_some() {
                    let t = self.value()?;
                    self.skip(t)?;
                }
            }
            Token::Array => {
                while self.next_element(&mut first)? {
                    let t = self.value()?;
                    self.skip(t)?;
                }
            }
            // serde_json refuses a number past f64's range, so the exact
            // path would reject the payload: not sure. Only an exponent or
            // a very long literal can get there.
            Token::Num(lit) if lit.len() > 300 || !is_plain_integer(lit) => {
                as_f64(lit)?;
            }
            _ => {}
        }
        Some(())
    }
}

/// Whether a number literal has no fraction and no exponent.
pub fn is_plain_integer(literal: &str) -> bool {
    !literal.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
}

/// A number literal as `f64`, read exactly as serde_json reads it (so a
/// value the walk writes is the value the exact path would write).
pub fn as_f64(literal: &str) -> Option<f64> {
    serde_json::from_str::<f64>(literal)
        .ok()
        .filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn walk(text: &str) -> Option<()> {
        let mut r = Reader::new(text);
        let t = r.value()?;
        r.skip(t)?;
        r.at_end().then_some(())
    }

    #[test]
    fn reads_valid_json_and_refuses_what_is_not() {
        for ok in [
            r#"{"a":[1,-2.5e+3,true,false,null,"x\"y"],"b":{}}"#,
            " [ ] ",
            "0",
            r#""\u00e9""#,
        ] {
            assert!(walk(ok).is_some(), "{ok}");
        }
        for bad in [
            r#"{"a":1,}"#,
            "[1 2]",
            "01",
            "1.",
            "-",
            r#"{"a" 1}"#,
            "tru",
            "{",
            "\"a\nb\"",
            "1 2",
        ] {
            assert!(walk(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn strings_decode_only_when_escaped() {
        let mut r = Reader::new(r#""plain""#);
        let Some(Token::Str(s)) = r.value() else {
            panic!()
        };
        assert!(matches!(s.decode(), Some(Cow::Borrowed("plain"))));
        let mut r = Reader::new(r#""a\u00e9\n""#);
        let Some(Token::Str(s)) = r.value() else {
            panic!()
        };
        assert_eq!(s.decode().as_deref(), Some("aé\n"));
        let mut r = Reader::new(r#""\ud800""#);
        let Some(Token::Str(s)) = r.value() else {
            panic!()
        };
        assert_eq!(s.decode(), None);
    }
}
