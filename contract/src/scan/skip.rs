//! Skipping one whole JSON value in a single pass, checking its grammar as
//! strictly as serde_json does, while measuring what the gateway's shape
//! limits bound: how deep containers nest and how long strings are. An
//! event is read this way once; nothing scans its text again.
//!
//! The walk keeps no recursion: which kind of container is open at each
//! level is a bit in a word (a `Vec` only past 64 levels), so a hostile
//! nesting costs neither stack nor memory beyond its own length.

use super::Reader;

/// The limit a value broke first, in text order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Broken {
    /// Containers nest deeper than the limit.
    TooDeep,
    /// A string (key or value, escapes as written) is longer than the limit.
    StringTooLong,
}

/// The shape limits a skip measures against, and the first one broken.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    max_depth: usize,
    max_string: usize,
    /// The first limit broken, if any.
    pub broken: Option<Broken>,
}

impl Shape {
    /// Limits of `max_depth` levels and strings of `max_string` bytes.
    pub fn new(max_depth: usize, max_string: usize) -> Shape {
        Shape {
            max_depth,
            max_string,
            broken: None,
        }
    }

    /// No limits: only the grammar is checked.
    pub fn unlimited() -> Shape {
        Shape::new(usize::MAX, usize::MAX)
    }

    /// The deepest nesting allowed.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// The longest string allowed, in bytes as written.
    pub fn max_string(&self) -> usize {
        self.max_string
    }

    /// A container opens at nesting level `depth` (the outermost is 1).
    #[inline]
    pub fn open(&mut self, depth: usize) {
        if depth > self.max_depth && self.broken.is_none() {
            self.broken = Some(Broken::TooDeep);
        }
    }

    /// A string of `len` bytes as written.
    #[inline]
    pub fn string(&mut self, len: usize) {
        if len > self.max_string && self.broken.is_none() {
            self.broken = Some(Broken::StringTooLong);
        }
    }
}

/// Which containers are open: bit `i` set when level `i` is an object.
#[derive(Default)]
struct Open {
    low: u64,
    high: Vec<bool>,
    depth: usize,
}

impl Open {
    #[inline]
    fn push(&mut self, object: bool) {
        if self.depth < 64 {
            let bit = 1u64 << self.depth;
            self.low = if object {
                self.low | bit
            } else {
                self.low & !bit
            };
        } else {
            self.high.push(object);
        }
        self.depth += 1;
    }

    #[inline]
    fn pop(&mut self) {
        self.depth -= 1;
        if self.depth >= 64 {
            self.high.pop();
        }
    }

    #[inline]
    fn object_on_top(&self) -> bool {
        let level = self.depth - 1;
        if level < 64 {
            (self.low >> level) & 1 == 1
        } else {
            self.high.last().copied().unwrap_or(false)
        }
    }
}

impl<'a> Reader<'a> {
    /// Skips one whole value, measuring it into `shape`; `depth` is the
    /// nesting level of the container the value is in (0 at the top).
    /// `None` when the text is not valid JSON.
    pub fn skip_value(&mut self, depth: usize, shape: &mut Shape) -> Option<()> {
        let mut open = Open::default();
        'value: loop {
            self.skip_space();
            match self.byte()? {
                b'{' => {
                    self.at += 1;
                    shape.open(depth + open.depth + 1);
                    self.skip_space();
                    if self.byte()? == b'}' {
                        self.at += 1;
                    } else {
                        open.push(true);
                        self.member_key(shape)?;
                        continue 'value;
                    }
                }
                b'[' => {
                    self.at += 1;
                    shape.open(depth + open.depth + 1);
                    self.skip_space();
                    if self.byte()? == b']' {
                        self.at += 1;
                    } else {
                        open.push(false);
                        continue 'value;
                    }
                }
                b'"' => {
                    let s = self.string()?;
                    shape.string(s.raw.len());
                }
                b't' => self.literal("true")?,
                b'f' => self.literal("false")?,
                b'n' => self.literal("null")?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                _ => return None,
            }
            // A value ended: close containers until a comma leads to the
            // next value, or the outermost one closes.
            while open.depth > 0 {
                self.skip_space();
                let object = open.object_on_top();
                match self.byte()? {
                    b',' => {
                        self.at += 1;
                        if object {
                            self.skip_space();
                            self.member_key(shape)?;
                        }
                        continue 'value;
                    }
                    b'}' if object => open.pop(),
                    b']' if !object => open.pop(),
                    _ => return None,
                }
                self.at += 1;
            }
            return Some(());
        }
    }

    /// Skips one whole value as [`Reader::skip_value`] does and returns its
    /// text, without the whitespace around it. Whitespace inside it is
    /// reported by the next [`Reader::take_spaced`].
    pub fn raw_value(&mut self, depth: usize, shape: &mut Shape) -> Option<&'a str> {
        self.skip_space();
        let from = self.at;
        self.take_spaced();
        self.skip_value(depth, shape)?;
        Some(self.since(from))
    }

    /// A member's key and its colon, the key measured.
    #[inline]
    fn member_key(&mut self, shape: &mut Shape) -> Option<()> {
        (self.byte()? == b'"').then_some(())?;
        let key = self.string()?;
        shape.string(key.raw.len());
        self.skip_space();
        (self.byte()? == b':').then(|| self.at += 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(text: &str, shape: &mut Shape) -> Option<usize> {
        let mut r = Reader::new(text);
        r.skip_value(0, shape)?;
        r.at_end().then_some(r.position())
    }

    #[test]
    fn accepts_exactly_what_serde_json_accepts() {
        let cases = [
            r#"{"a":[1,-2.5e+3,true,false,null,"x\"y"],"b":{}}"#,
            " [ ] ",
            "0",
            r#""\u00e9""#,
            r#"{ "a" : { "b" : [ [ ], { } ] } }"#,
            r#"{"a":1,}"#,
            "[1 2]",
            "[1,]",
            "01",
            "1.",
            "-",
            r#"{"a" 1}"#,
            r#"{"a":1"b":2}"#,
            r#"{1:2}"#,
            "tru",
            "{",
            "[}",
            "{]",
            "\"a\nb\"",
            r#""\x""#,
            "1 2",
            "[[[[[]]]]]",
            "[[[[[]]]]",
        ];
        for text in cases {
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
            assert_eq!(
                skip(text, &mut Shape::unlimited()).is_some(),
                serde,
                "{text}"
            );
        }
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        assert!(skip(&deep, &mut Shape::unlimited()).is_some());
        let unbalanced = format!("{}{}", "[".repeat(300), "]".repeat(299));
        assert!(skip(&unbalanced, &mut Shape::unlimited()).is_none());
    }

    #[test]
    fn measures_depth_and_strings_in_text_order() {
        let mut shape = Shape::new(3, 10);
        skip(r#"{"a":{"b":[1,{"c":2}]}}"#, &mut shape).unwrap();
        assert_eq!(shape.broken, Some(Broken::TooDeep));
        let mut shape = Shape::new(4, 10);
        skip(r#"{"a":{"b":[1,{"c":2}]}}"#, &mut shape).unwrap();
        assert_eq!(shape.broken, None);
        // Keys count, and the first break wins.
        let mut shape = Shape::new(1, 3);
        skip(r#"{"long key":[[]]}"#, &mut shape).unwrap();
        assert_eq!(shape.broken, Some(Broken::StringTooLong));
        // Brackets and quotes inside strings do not count.
        let mut shape = Shape::new(1, 20);
        skip(r#"{"a":"[[[[\"{{{{"}"#, &mut shape).unwrap();
        assert_eq!(shape.broken, None);
    }
}
