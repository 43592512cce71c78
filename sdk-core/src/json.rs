//! The little JSON the engine itself reads and writes, by hand.
//!
//! The engine never needs a JSON value tree: properties, traits and the
//! device context arrive from the platform as object text and go into the
//! batch body as they are; the rest of an event is a few strings and
//! numbers; the only thing it reads is the gateway's per-event rejections.
//! Doing that without serde keeps the web SDK's WebAssembly small (serde_json
//! and its value tree cost more than the whole engine) and lets a platform
//! that already holds JSON text (JavaScript's `JSON.stringify`, a Kotlin
//! string) pass it straight through.

use serde_json::{Map, Value};

/// A JSON object as UTF-8 text, checked to be well-formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonObject(Vec<u8>);

impl Default for JsonObject {
    fn default() -> JsonObject {
        JsonObject::empty()
    }
}

impl JsonObject {
    /// Wraps object text this crate wrote itself.
    pub(crate) fn written(bytes: Vec<u8>) -> JsonObject {
        JsonObject(bytes)
    }

    /// `{}`.
    pub fn empty() -> JsonObject {
        JsonObject(b"{}".to_vec())
    }

    /// Checks that `text` is exactly one JSON object (surrounding
    /// whitespace allowed). The error says what is wrong and where.
    pub fn parse(text: &str) -> Result<JsonObject, String> {
        let mut r = Reader::new(text.as_bytes());
        r.ws();
        if r.peek() != Some(b'{') {
            return Err("must be a JSON object".into());
        }
        r.skip_value(0)?;
        r.ws();
        if r.pos != text.len() {
            return r.fail("unexpected text after the object");
        }
        Ok(JsonObject(text.trim().as_bytes().to_vec()))
    }

    /// Object text that a JSON serializer wrote from a map or plain object
    /// (JavaScript's `JSON.stringify`, serde_json), taken without a second
    /// check. Text that is not one object would spoil every batch it joins.
    pub fn from_serialized(text: String) -> JsonObject {
        JsonObject(text.into_bytes())
    }

    /// The object text, as UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl From<Map<String, Value>> for JsonObject {
    fn from(m: Map<String, Value>) -> JsonObject {
        JsonObject::from(&m)
    }
}

impl From<&Map<String, Value>> for JsonObject {
    fn from(m: &Map<String, Value>) -> JsonObject {
        JsonObject(serde_json::to_vec(m).unwrap_or_else(|_| b"{}".to_vec()))
    }
}

/// Appends `s` as a JSON string literal.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    write_utf8(out, s.as_bytes());
}

/// Appends UTF-8 text as a JSON string literal (multi-byte sequences pass
/// through; only `"`, `\` and control characters are escaped).
pub fn write_utf8(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 15) as usize]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends a decimal integer.
pub fn write_int(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    let mut v = n.unsigned_abs();
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// The per-event rejections of a gateway `BatchResponse`
/// (`{"accepted":n,"rejected":[{"index":i,"retryable":b,…}]}`), as
/// `(index, retryable)`. `None` when the body is not such an object, in
/// which case the engine treats the batch as taken whole.
pub fn rejections(body: &[u8]) -> Option<Vec<(usize, bool)>> {
    let mut r = Reader::new(body);
    let mut out = Vec::new();
    r.object(|r, key| {
        if key != b"rejected" {
            return r.skip_value(0);
        }
        r.array(|r| {
            let (mut index, mut retryable) = (None, false);
            r.object(|r, key| match key {
                b"index" => {
                    index = Some(r.uint()?);
                    Ok(())
                }
                b"retryable" => {
                    retryable = r.boolean()?;
                    Ok(())
                }
                _ => r.skip_value(0),
            })?;
            out.push((index.ok_or("rejection without index")?, retryable));
            Ok(())
        })
    })
    .ok()?;
    Some(out)
}

/// The `settingsVersion` of a gateway answer (`BatchResponse`), if it has
/// one. Versions are hex digests: the raw string is the value.
pub fn settings_version(body: &[u8]) -> Option<String> {
    let mut r = Reader::new(body);
    let mut out = None;
    r.object(|r, key| {
        if key != b"settingsVersion" {
            return r.skip_value(0);
        }
        r.ws();
        out = std::str::from_utf8(r.string()?).ok().map(str::to_owned);
        Ok(())
    })
    .ok()?;
    out
}

/// Nesting deeper than this is refused rather than recursed into.
const MAX_DEPTH: usize = 128;

/// A forward-only JSON reader over bytes: validates and skips values, and
/// reads the few scalars the engine needs.
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

type Step = Result<(), String>;

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Reader<'a> {
        Reader { b, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.pos += 1;
        }
    }

    fn fail<T>(&self, what: &str) -> Result<T, String> {
        let mut at = Vec::new();
        write_int(&mut at, self.pos as i64);
        Err(String::from(what) + " at byte " + std::str::from_utf8(&at).unwrap_or_default())
    }

    fn expect(&mut self, c: u8) -> Step {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail("unexpected character")
        }
    }

    /// Reads `{ "key": value, … }`, calling `member` at each value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &[u8]) -> Step) -> Step {
        self.expect(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.expect(b':')?;
            self.ws();
            member(self, key)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return self.fail("expected , or }"),
            }
        }
    }

    /// Reads `[ value, … ]`, calling `item` at each value.
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Step) -> Step {
        self.expect(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.ws();
            item(self)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return self.fail("expected , or ]"),
            }
        }
    }

    /// Reads a string and returns its raw (still escaped) contents.
    fn string(&mut self) -> Result<&'a [u8], String> {
        if self.peek() != Some(b'"') {
            return self.fail("expected a string");
        }
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                None => return self.fail("unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(&self.b[start..self.pos - 1]);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.pos += 1
                        }
                        Some(b'u') => {
                            let hex = self.b.get(self.pos + 1..self.pos + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return self.fail("bad \\u escape");
                            }
                            self.pos += 5;
                        }
                        _ => return self.fail("bad escape"),
                    }
                }
                Some(0..=0x1f) => return self.fail("control character in string"),
                Some(_) => self.pos += 1,
            }
        }
    }

    fn number(&mut self) -> Step {
        let digits = |r: &mut Self| {
            let s = r.pos;
            while r.peek().is_some_and(|c| c.is_ascii_digit()) {
                r.pos += 1;
            }
            r.pos - s
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let first = self.peek();
        let n = digits(self);
        if n == 0 || (first == Some(b'0') && n > 1) {
            return self.fail("bad number");
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return self.fail("bad fraction");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return self.fail("bad exponent");
            }
        }
        Ok(())
    }

    fn uint(&mut self) -> Result<usize, String> {
        let start = self.pos;
        self.number()?;
        std::str::from_utf8(&self.b[start..self.pos])
            .ok()
            .and_then(|s| s.parse().ok())
            .map_or_else(|| self.fail("expected an index"), Ok)
    }

    fn boolean(&mut self) -> Result<bool, String> {
        for (word, v) in [(&b"true"[..], true), (&b"false"[..], false)] {
            if self.b[self.pos..].starts_with(word) {
                self.pos += word.len();
                return Ok(v);
            }
        }
        self.fail("expected true or false")
    }

    fn skip_value(&mut self, depth: usize) -> Step {
        if depth > MAX_DEPTH {
            return self.fail("nested too deeply");
        }
        self.ws();
        match self.peek() {
            Some(b'{') => self.object(|r, _| r.skip_value(depth + 1)),
            Some(b'[') => self.array(|r| r.skip_value(depth + 1)),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't' | b'f') => self.boolean().map(|_| ()),
            Some(b'n') if self.b[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(())
            }
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => self.fail("expected a value"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use tributary_contract::{BatchResponse, ErrorCode, EventRejection};

    #[test]
    fn objects_are_accepted_and_everything_else_refused() {
        for ok in [
            "{}",
            " {\"a\":1} ",
            r#"{"a":[1,-2.5e3,"x\"\u00e9",true,false,null,{"b":{}}]}"#,
        ] {
            assert!(JsonObject::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "[]",
            "1",
            "{",
            "{\"a\"}",
            "{\"a\":}",
            "{\"a\":1,}",
            "{\"a\":01}",
            "{\"a\":1}x",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":tru}",
            "{\"a\":\"\\x\"}",
        ] {
            assert!(JsonObject::parse(bad).is_err(), "{bad:?}");
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(JsonObject::parse(&deep).is_err());
    }

    #[test]
    fn rejections_read_the_contract_response() {
        let resp = BatchResponse {
            accepted: 3,
            rejected: vec![
                EventRejection {
                    index: 1,
                    code: ErrorCode::SchemaViolation,
                    message: "bad \"total\"".into(),
                    retryable: false,
                    pointer: Some("/total".into()),
                    rule: Some("type".into()),
                },
                EventRejection {
                    index: 4,
                    code: ErrorCode::KafkaUnavailable,
                    message: "later".into(),
                    retryable: true,
                    pointer: None,
                    rule: None,
                },
            ],
            settings_version: Some("0a1b".into()),
        };
        let body = serde_json::to_vec(&resp).unwrap();
        assert_eq!(rejections(&body), Some(vec![(1, false), (4, true)]));
        assert_eq!(settings_version(&body).as_deref(), Some("0a1b"));
        assert_eq!(settings_version(br#"{"accepted":2,"rejected":[]}"#), None);
        assert_eq!(rejections(br#"{"accepted":2,"rejected":[]}"#), Some(vec![]));
        assert_eq!(rejections(b"not json"), None);
        assert_eq!(rejections(b""), None);
    }

    #[test]
    fn strings_and_ints_are_written_as_serde_would() {
        for s in ["plain", "q\"b\\s\n\t\r", "\u{1}\u{1f}", "é 🦀"] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
        }
        for n in [0, 7, -12, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            write_int(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_on_objects(v in arb_json(3)) {
            let text = serde_json::to_string(&v).unwrap();
            let ours = JsonObject::parse(&text).is_ok();
            prop_assert_eq!(ours, v.is_object());
        }

        #[test]
        fn never_accepts_what_serde_json_refuses(s in "[{}\\[\\]\":,a0-9.e\\- tfnrul\\\\]{0,24}") {
            if JsonObject::parse(&s).is_ok() {
                let v: Result<Value, _> = serde_json::from_str(&s);
                prop_assert!(v.is_ok_and(|v| v.is_object()), "{s:?}");
            }
        }
    }

    fn arb_json(depth: u32) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            (-1e9f64..1e9).prop_map(Value::from),
            ".{0,8}".prop_map(Value::from),
        ];
        leaf.prop_recursive(depth, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(".{0,4}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }
}
