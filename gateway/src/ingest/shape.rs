//! Shape limits of one event: nesting depth and string length. Checked by
//! a single byte scan of the event's raw JSON (already known to be valid),
//! before anything is decoded, so a hostile event costs one pass.

use tributary_contract::ErrorCode;
use tributary_contract::scan::string_stop;
use tributary_contract::view::ViewError;

/// Checks `raw` (one event, valid JSON) against the limits.
pub fn check(raw: &str, max_depth: usize, max_string: usize) -> Result<(), ViewError> {
    let bytes = raw.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Err(ViewError {
                        code: ErrorCode::NestingTooDeep,
                        message: format!("event nests deeper than {max_depth} levels"),
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                // The length counts the string's bytes as written, escapes
                // included; strings are skipped eight bytes at a time.
                let start = i + 1;
                i = start;
                loop {
                    i = string_stop(bytes, i);
                    match bytes.get(i) {
                        Some(b'\\') => i += 2,
                        Some(b'"') | None => break,
                        Some(_) => i += 1,
                    }
                }
                if i.min(bytes.len()) - start > max_string {
                    return Err(ViewError {
                        code: ErrorCode::StringTooLong,
                        message: format!("event has a string of more than {max_string} bytes"),
                    });
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_and_string_limits() {
        assert!(check(r#"{"a":{"b":[1,{"c":2}]}}"#, 4, 10).is_ok());
        assert_eq!(
            check(r#"{"a":{"b":[1,{"c":2}]}}"#, 3, 10).unwrap_err().code,
            ErrorCode::NestingTooDeep
        );
        assert_eq!(
            check(r#"{"a":"01234567890"}"#, 4, 10).unwrap_err().code,
            ErrorCode::StringTooLong
        );
        // Brackets and escaped quotes inside strings do not count.
        assert!(check(r#"{"a":"[[[[\"{{{{"}"#, 1, 20).is_ok());
    }
}
