//! Built-in detectors of personal data inside a string: e-mail addresses,
//! payment card numbers and phone numbers. Each returns the byte spans it
//! found, so the action can replace just them.
//!
//! They are tuned against false alarms on what analytics events are full
//! of (ids, versions, timestamps, prices): a card must have a card
//! network's prefix and pass the Luhn check, and a phone number must be
//! written as one (`+` and 8–15 digits, or `(555) 123-4567` /
//! `555-123-4567`); a bare run of digits is neither.

use crate::config::PiiPattern;

/// A found span: `[start, end)` bytes of the string, and what it is.
pub type Found = (usize, usize, PiiPattern);

/// Whether any detector in `enabled` could find something anywhere in the
/// JSON text `text`: an `@` for e-mail, a run of 8 digits (single
/// separators allowed) for cards and phones. Most objects have neither,
/// so this one pass spares them the walk that looks at each string.
pub fn may_match(text: &str, enabled: &[PiiPattern]) -> bool {
    let b = text.as_bytes();
    let email = enabled.contains(&PiiPattern::Email);
    let digits = enabled.iter().any(|p| *p != PiiPattern::Email);
    if email && memchr::memchr(b'@', b).is_some() {
        return true;
    }
    if !digits {
        return false;
    }
    // Eight bytes at a time: a word without a digit ends any run (a run
    // allows two separators between digits), so only words with digits
    // are looked at byte by byte. JSON text is mostly letters and quotes.
    let (mut run, mut gap) = (0u32, 0u8);
    let mut words = b.chunks_exact(8);
    for word in words.by_ref() {
        let w = u64::from_le_bytes(word.try_into().unwrap_or_default());
        if digit_bytes(w) == 0 {
            run = 0;
            gap = 0;
            continue;
        }
        if digit_run(word, &mut run, &mut gap) {
            return true;
        }
    }
    digit_run(words.remainder(), &mut run, &mut gap)
}

/// The high bit of each byte of `w` that is an ASCII digit.
fn digit_bytes(w: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let low = w & LOW7;
    // Bit 7 of each byte: set when the byte (its low 7 bits) is at least
    // '0' (0x30), and when it is past '9' (0x3a). Neither sum carries.
    let from_zero = low + 0x5050_5050_5050_5050;
    let past_nine = low + 0x4646_4646_4646_4646;
    from_zero & !past_nine & !w & HIGH
}

/// Continues a digit run (`run` digits so far, `gap` separators since the
/// last digit) over `bytes`; whether it reached 8. Two separators may
/// stand between digits, as in `(555) 123`, as [`digit_runs`] allows.
fn digit_run(bytes: &[u8], run: &mut u32, gap: &mut u8) -> bool {
    for &c in bytes {
        if c.is_ascii_digit() {
            *run += 1;
            *gap = 0;
            if *run >= 8 {
                return true;
            }
        } else if *gap < 2 && matches!(c, b' ' | b'-' | b'.' | b'(' | b')') {
            *gap += 1;
        } else {
            *run = 0;
            *gap = 0;
        }
    }
    false
}

/// Every span in `s` found by the detectors in `enabled`, in order, not
/// overlapping.
pub fn find(s: &str, enabled: &[PiiPattern]) -> Vec<Found> {
    let b = s.as_bytes();
    // One cheap pass decides whether any detector can match at all: most
    // strings have no `@` and few digits.
    let (mut at, mut digits) = (false, 0usize);
    for &c in b {
        at |= c == b'@';
        digits += usize::from(c.is_ascii_digit());
    }
    let mut found = Vec::new();
    for p in enabled {
        match p {
            PiiPattern::Email if at => emails(b, &mut found),
            PiiPattern::Card if digits >= 13 => cards(b, &mut found),
            PiiPattern::Phone if digits >= 8 => phones(b, &mut found),
            _ => {}
        }
    }
    found.sort_by_key(|f| f.0);
    found.dedup_by(|later, earlier| later.0 < earlier.1);
    found
}

fn local_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn domain_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-')
}

fn emails(b: &[u8], found: &mut Vec<Found>) {
    for (i, _) in b.iter().enumerate().filter(|(_, c)| **c == b'@') {
        let mut start = i;
        while start > 0 && local_char(b[start - 1]) {
            start -= 1;
        }
        let mut end = i + 1;
        while end < b.len() && domain_char(b[end]) {
            end += 1;
        }
        while end > i + 1 && b[end - 1] == b'.' {
            end -= 1;
        }
        let domain = &b[i + 1..end];
        let tld = domain.rsplit(|c| *c == b'.').next().unwrap_or_default();
        if start < i
            && domain.contains(&b'.')
            && tld.len() >= 2
            && tld.iter().all(u8::is_ascii_alphabetic)
        {
            found.push((start, end, PiiPattern::Email));
        }
    }
}

/// Maximal runs of digits where single `seps` may stand between digits:
/// `(start, end, digits)`.
fn digit_runs(b: &[u8], seps: &[u8]) -> Vec<(usize, usize, Vec<u8>)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = Vec::new();
        let mut end = i;
        while i < b.len() {
            if b[i].is_ascii_digit() {
                digits.push(b[i] - b'0');
                i += 1;
                end = i;
            } else if seps.contains(&b[i])
                && (b.get(i + 1).is_some_and(u8::is_ascii_digit)
                    || (b.get(i + 1).is_some_and(|c| seps.contains(c))
                        && b.get(i + 2).is_some_and(u8::is_ascii_digit)))
            {
                // One or two separators between digits: `555) 123`.
                i += 1;
            } else {
                break;
            }
        }
        runs.push((start, end, digits));
    }
    runs
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// Whether `digits` start like a number of a major card network.
fn card_prefix(digits: &[u8]) -> bool {
    let n = |k: usize| {
        digits
            .iter()
            .take(k)
            .fold(0u32, |acc, d| acc * 10 + u32::from(*d))
    };
    matches!(digits.first(), Some(4))
        || (51..=55).contains(&n(2))
        || (2221..=2720).contains(&n(4))
        || matches!(n(2), 34 | 37 | 35 | 36 | 38 | 65)
        || n(4) == 6011
        || (300..=305).contains(&n(3))
}

fn cards(b: &[u8], found: &mut Vec<Found>) {
    for (start, end, digits) in digit_runs(b, b" -") {
        let alone = start == 0 || !b[start - 1].is_ascii_alphanumeric();
        if alone && (13..=19).contains(&digits.len()) && card_prefix(&digits) && luhn(&digits) {
            found.push((start, end, PiiPattern::Card));
        }
    }
}

fn phones(b: &[u8], found: &mut Vec<Found>) {
    for (start, end, digits) in digit_runs(b, b" -.()") {
        let before = start.checked_sub(1).map(|i| b[i]);
        let after = b.get(end).copied();
        if before.is_some_and(|c| c.is_ascii_alphanumeric())
            || after.is_some_and(|c| c.is_ascii_alphanumeric())
        {
            continue;
        }
        if before == Some(b'+') && (8..=15).contains(&digits.len()) {
            found.push((start - 1, end, PiiPattern::Phone));
            continue;
        }
        // North American: 3-3-4 with separators, optional (area code).
        let text = &b[start.saturating_sub(usize::from(before == Some(b'(')))..end];
        let groups: Vec<usize> = text
            .split(|c| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .map(<[u8]>::len)
            .collect();
        if groups == [3, 3, 4] {
            found.push((end - text.len(), end, PiiPattern::Phone));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PiiPattern::*;

    fn spans(s: &str) -> Vec<(&str, PiiPattern)> {
        find(s, &[Email, Card, Phone])
            .into_iter()
            .map(|(a, b, p)| (&s[a..b], p))
            .collect()
    }

    #[test]
    fn finds_what_it_should() {
        assert_eq!(
            spans("mail jane.doe+x@example.co.uk."),
            [("jane.doe+x@example.co.uk", Email)]
        );
        assert_eq!(
            spans("4111 1111 1111 1111"),
            [("4111 1111 1111 1111", Card)]
        );
        assert_eq!(
            spans("card=5555-5555-5555-4444;"),
            [("5555-5555-5555-4444", Card)]
        );
        assert_eq!(spans("378282246310005"), [("378282246310005", Card)]);
        assert_eq!(
            spans("call +49 30 1234567 now"),
            [("+49 30 1234567", Phone)]
        );
        assert_eq!(spans("(555) 123-4567"), [("(555) 123-4567", Phone)]);
        assert_eq!(spans("555.123.4567"), [("555.123.4567", Phone)]);
    }

    #[test]
    fn the_quick_test_never_misses_what_find_finds() {
        for s in [
            "mail jane.doe+x@example.co.uk.",
            "4111 1111 1111 1111",
            "+49 30 1234567",
            "(555) 123-4567",
            "555.123.4567",
        ] {
            assert!(!spans(s).is_empty());
            assert!(
                may_match(&format!("{{\"k\":\"{s}\"}}"), &[Email, Card, Phone]),
                "{s}"
            );
        }
        assert!(!may_match(
            r#"{"total":42.5,"items":[{"q":1}],"v":"4.2.0"}"#,
            &[Email, Card, Phone]
        ));
        assert!(!may_match("a@b.io", &[Card, Phone]));
        // Runs across the eight-byte words, and bytes past ASCII.
        assert!(may_match("xxxxxx12345678", &[Card]));
        assert!(may_match("ééé1234 5678", &[Phone]));
        assert!(!may_match("ééééé1234 567é", &[Phone]));
        for c in 0..=255u8 {
            let w = u64::from_le_bytes([c; 8]);
            assert_eq!(digit_bytes(w) != 0, c.is_ascii_digit(), "{c}");
        }
    }

    #[test]
    fn leaves_ids_versions_times_and_prices_alone() {
        for s in [
            "1733100000000",
            "4111111111111112",
            "order-2026-12-02-000123",
            "10.15.7",
            "2026-12-02T10:00:00.123Z",
            "user@localhost",
            "@handle",
            "19.99",
            "a1b2c3d4-0000-4000-8000-123456789012",
            "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005)",
        ] {
            assert_eq!(spans(s), [], "{s}");
        }
    }
}
