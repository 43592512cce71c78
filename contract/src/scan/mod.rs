//! Scanning raw JSON text on the hot path: finding where a string ends
//! eight bytes at a time (SWAR), which is most of the work of reading an
//! event, because events are mostly strings; a forward-only [`Reader`]
//! that borrows everything from the text ([`reader`]); and skipping one
//! whole value while measuring its nesting and string lengths
//! ([`skip`]), which is how an event is read in one pass.
//!
//! The reader returns `None` on anything it does not expect, valid JSON or
//! not. Its callers treat `None` as "not sure" and hand the text to
//! serde_json, which then says precisely what is wrong. So the reader never
//! has to produce an error message, and never panics.

mod reader;
mod skip;

pub use reader::{JsonStr, Reader, Token, as_f64, is_plain_integer};
pub use skip::{Broken, Shape};

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
            // An escape JSON allows, checked as serde_json checks it, so
            // that text this scan accepts is text serde_json accepts.
            b'\\' => {
                escaped = true;
                i += match *bytes.get(i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' if bytes.get(i + 2..i + 6)?.iter().all(u8::is_ascii_hexdigit) => 6,
                    _ => return None,
                };
            }
            _ => return None,
        }
    }
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
        // Escapes serde_json refuses end the scan too.
        for bad in [&br#""\q""#[..], br#""\u12""#, br#""\u12g4""#, b"\"\\"] {
            assert_eq!(string_end(bad, 0), None, "{bad:?}");
        }
        assert_eq!(string_end(br#""\u00e9\/""#, 0), Some((9, true)));
    }
}
