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
