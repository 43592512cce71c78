//! Scanning raw JSON text on the hot path: finding where a string ends
//! eight bytes at a time (SWAR), which is most of the work of reading an
//! event, because events are mostly strings; and a forward-only [`Reader`]
//! that borrows everything from the text.
//!
//! The reader returns `None` on anything it does not expect, valid JSON or
//! not. Its callers (the schema plans) treat
//! `None` as "not sure" and hand the text to serde_json, which then says
//! precisely what is wrong. So the reader never has to produce an error
//! message, and never panics.

use std::borrow::Cow;

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Flags (high bit) the bytes of `v` equal to zero. Only the lowest flag is
/// exact (a borrow can flag a higher byte), which is all the callers use.
#[inline]
fn zero_bytes(v: u64) -> u64 {
    v.wrapping_sub(LO) & !v & HI
}

/// The position of the first byte at or after `from` that is `"`, `\` or a
/// control character (below 0x20): where a string ends, an escape starts,
/// or the text stops being valid JSON. `bytes.len()` when there is none.
#[inline]
pub fn string_stop(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let v = u64::from_le_bytes(word);
        let quote = zero_bytes(v ^ (LO * u64::from(b'"')));
        let backslash = zero_bytes(v ^ (LO * u64::from(b'\\')));
        let control = v.wrapping_sub(LO * 0x20) & !v & HI;
        let hits = quote | backslash | control;
        if hits != 0 {
            return i + (hits.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    bytes.len()
}

/// The end of the JSON string whose opening quote is at `open`: the
/// position of its closing quote, and whether it has escapes. `None` when
/// it is not closed or holds a raw control character.
#[inline]
pub fn string_end(bytes: &[u8], open: usize) -> Option<(usize, bool)> {
    let mut i = open + 1;
    let mut escaped = false;
    loop {
        i = string_stop(bytes, i);
        match *bytes.get(i)? {
            b'"' => return Some((i, escaped)),
            b'\\' => {
                escaped = true;
                i += 2;
            }
            _ => return None,
        }
    }
}

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
    raw: &'a str,
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    /// The decoded string; borrowed unless it has escapes. `None` for an
    /// escape JSON does not allow (a lone surrogate, say).
    pub fn decode(&self) -> Option<Cow<'a, str>> {
        if !self.escaped {
            return Some(Cow::Borrowed(self.raw));
        }
        let mut quoted = String::with_capacity(self.raw.len() + 2);
        quoted.push('"');
        quoted.push_str(self.raw);
        quoted.push('"');
        serde_json::from_str::<String>(&quoted).ok().map(Cow::Owned)
    }
}

/// The reader: a position in the text.
pub struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Reader<'a> {
        Reader { text, at: 0 }
    }

    #[inline]
    fn byte(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    #[inline]
    fn skip_space(&mut self) {
        while matches!(self.byte(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.skip_space();
        self.at == self.text.len()
    }

    #[inline]
    fn literal(&mut self, word: &str) -> Option<()> {
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
    fn string(&mut self) -> Option<JsonStr<'a>> {
        let (end, escaped) = string_end(self.text.as_bytes(), self.at)?;
        // The quotes are ASCII, so both ends are character boundaries.
        let raw = self.text.get(self.at + 1..end)?;
        self.at = end + 1;
        Some(JsonStr { raw, escaped })
    }

    /// A number literal: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    #[inline]
    fn number(&mut self) -> Option<&'a str> {
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

    #[test]
    fn finds_the_stop_at_every_offset_and_chunk_position() {
        for len in 0..20 {
            for at in 0..len {
                for stop in [b'"', b'\\', b'\n', 0x1f] {
                    let mut text = vec![b'a'; len];
                    text[at] = stop;
                    // Bytes above 0x7f and just above the control range do
                    // not stop a string.
                    if at > 0 {
                        text[at - 1] = 0xc3;
                    }
                    assert_eq!(string_stop(&text, 0), at, "{len} {at} {stop}");
                }
                assert_eq!(string_stop(&vec![b' '; len], at), len);
            }
        }
    }

    #[test]
    fn string_end_skips_escapes() {
        let t = br#""a\"b\\" x"#;
        assert_eq!(string_end(t, 0), Some((7, true)));
        assert_eq!(string_end(br#""plain""#, 0), Some((6, false)));
        assert_eq!(string_end(b"\"open", 0), None);
        assert_eq!(string_end(b"\"a\nb\"", 0), None);
    }

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
