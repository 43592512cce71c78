//! What the SDK records on its own: lifecycle, screens and page views,
//! crashes and uncaught errors, and campaign attribution. Platforms report
//! facts (the app opened, a route changed, an exception escaped); the
//! engine decides here what each fact becomes, so the three platforms emit
//! the same events with the same properties.
//!
//! Each kind is switched by the app ([`AutoCaptureConfig`]) and, over it,
//! by the server's settings (`autoCapture`).

use crate::ids::stable_hash;
use crate::json::{JsonObject, write_str};
use serde::{Deserialize, Serialize};
use tributary_contract::settings::AutoCapture;

/// Largest stack text kept in a crash event, bytes.
pub const MAX_STACK_BYTES: usize = 4096;
/// Frames that make up a crash's stack hash.
const HASHED_FRAMES: usize = 8;

/// What the SDK captures without being asked; each on by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AutoCaptureConfig {
    /// Installed, updated, opened, foregrounded, backgrounded.
    pub lifecycle: bool,
    /// Page views (web routes) and screen views (activities).
    pub screens: bool,
    /// Crashes and uncaught errors.
    pub errors: bool,
    /// UTM parameters and deep links on the first event of a session.
    pub attribution: bool,
}

impl Default for AutoCaptureConfig {
    fn default() -> Self {
        AutoCaptureConfig {
            lifecycle: true,
            screens: true,
            errors: true,
            attribution: true,
        }
    }
}

impl AutoCaptureConfig {
    /// The switches in force: the server's where it sets one.
    pub fn with_server(self, s: AutoCapture) -> AutoCaptureConfig {
        AutoCaptureConfig {
            lifecycle: s.lifecycle.unwrap_or(self.lifecycle),
            screens: s.screens.unwrap_or(self.screens),
            errors: s.errors.unwrap_or(self.errors),
            attribution: s.attribution.unwrap_or(self.attribution),
        }
    }
}

/// The kinds of automatic capture, for [`crate::Engine::auto_enabled`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoKind {
    /// Lifecycle events.
    Lifecycle,
    /// Page and screen views.
    Screens,
    /// Crashes and uncaught errors.
    Errors,
    /// Campaign attribution.
    Attribution,
}

/// The app opened: what the platform knows at that moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Opened {
    /// App version (marketing), if known.
    pub version: Option<String>,
    /// App build, if known.
    pub build: Option<String>,
    /// The URL (web page or deep link) it opened with.
    pub url: Option<String>,
    /// The referrer (web) or referring app.
    pub referrer: Option<String>,
}

/// An exception or error that escaped the app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Crash {
    /// Exception class or error name, e.g. `IllegalStateException`.
    pub kind: String,
    /// Its message.
    pub message: String,
    /// The stack as text, one frame per line, innermost first.
    pub stack: String,
    /// The process dies of it (false: a web page lives on).
    pub fatal: bool,
    /// What caught it: `uncaught_exception`, `objc_exception`, `error`,
    /// `unhandledrejection`.
    pub source: String,
}

/// A stable hash of a stack's top frames, so the same crash from other
/// builds, devices and line shifts groups together: line and column
/// numbers, addresses and whitespace are left out of each frame, and so are
/// a URL's query and fragment (a page's inline scripts are named by the
/// page's full URL, which differs for every campaign link and route).
pub fn stack_hash(kind: &str, stack: &str) -> String {
    let mut norm = kind.as_bytes().to_vec();
    for frame in stack
        .as_bytes()
        .split(|b| *b == b'\n')
        .filter(|l| l.iter().any(|b| !b.is_ascii_whitespace()))
        .take(HASHED_FRAMES)
    {
        norm.push(b'\n');
        let (mut digits, mut query) = (false, false);
        for &c in frame {
            // A query or fragment ends where the line number (or the frame) does.
            query = (query || c == b'?' || c == b'#') && c != b':' && c != b')';
            if query {
                continue;
            }
            // Runs of digits (line:col, 0x addresses) become one `#`.
            if c.is_ascii_digit() {
                if !digits {
                    norm.push(b'#');
                }
                digits = true;
            } else if !c.is_ascii_whitespace() {
                digits = false;
                norm.push(c);
            }
        }
    }
    let h = stable_hash(&norm);
    let mut out = String::with_capacity(16);
    for i in (0..16).rev() {
        out.push(char::from_digit(((h >> (i * 4)) & 15) as u32, 16).unwrap_or('0'));
    }
    out
}

/// The properties of `Application Crashed` for `c`.
pub fn crash_properties(c: &Crash, version: Option<&str>, build: Option<&str>) -> JsonObject {
    let mut stack = c.stack.as_str();
    if stack.len() > MAX_STACK_BYTES {
        let mut end = MAX_STACK_BYTES;
        while !stack.is_char_boundary(end) {
            end -= 1;
        }
        stack = &stack[..end];
    }
    let kind = if c.kind.is_empty() { "Error" } else { &c.kind };
    let mut out = b"{".to_vec();
    let fields = [
        ("type", Some(kind)),
        ("stackHash", Some(&*stack_hash(kind, &c.stack))),
        ("message", Some(c.message.as_str())),
        ("stack", Some(stack)),
        ("appVersion", version),
        ("appBuild", build),
        ("source", Some(c.source.as_str()).filter(|s| !s.is_empty())),
    ];
    write_fields(&mut out, &fields);
    out.extend_from_slice(if c.fatal {
        b",\"fatal\":true}"
    } else {
        b",\"fatal\":false}"
    });
    JsonObject::written(out)
}

/// Appends `"k":"v"` pairs (set ones only), comma-separated, to an object
/// being written (after its `{`).
pub(crate) fn write_fields(out: &mut Vec<u8>, fields: &[(&str, Option<&str>)]) {
    for (k, v) in fields {
        let Some(v) = v else { continue };
        if out.last() != Some(&b'{') {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write_str(out, v);
    }
}

/// The campaign of a URL: its `utm_*` parameters as Segment's
/// `context.campaign` (`source`, `medium`, `name`, `term`, `content`),
/// or `None` when it has none. Values are taken as they are, `+` and
/// `%`-escapes decoded.
pub fn campaign(url: &str) -> Option<JsonObject> {
    // Bytes, not `str` patterns: the web SDK's download pays for every
    // searcher (the delimiters are ASCII, so each piece is UTF-8 still).
    let b = url.as_bytes();
    let start = b.iter().position(|c| *c == b'?')? + 1;
    let query = &b[start..];
    let query = &query[..query.iter().position(|c| *c == b'#').unwrap_or(query.len())];
    let mut out = b"{".to_vec();
    for pair in query.split(|c| *c == b'&') {
        let eq = pair.iter().position(|c| *c == b'=').unwrap_or(pair.len());
        let name = match &pair[..eq] {
            b"utm_source" => "source",
            b"utm_medium" => "medium",
            b"utm_campaign" => "name",
            b"utm_term" => "term",
            b"utm_content" => "content",
            _ => continue,
        };
        let value = percent_decode(pair.get(eq + 1..).unwrap_or_default());
        write_fields(&mut out, &[(name, Some(&value))]);
    }
    out.push(b'}');
    (out.len() > 2).then(|| JsonObject::written(out))
}

fn percent_decode(b: &[u8]) -> String {
    let hex = |i: usize| b.get(i).and_then(|c| (*c as char).to_digit(16));
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 2;
            }
            (b'+', ..) => out.push(b' '),
            (c, ..) => out.push(c),
        }
        i += 1;
    }
    // Escapes that do not decode to UTF-8 leave the value as it was sent
    // (a piece of a `str` cut at ASCII delimiters, so UTF-8).
    String::from_utf8(out).unwrap_or_else(|_| String::from_utf8(b.to_vec()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_hash_ignores_line_numbers_and_addresses() {
        let a = "at com.shop.Cart.total(Cart.kt:42)\n at com.shop.Main.main(Main.kt:7)";
        let b = "at com.shop.Cart.total(Cart.kt:57)\nat com.shop.Main.main(Main.kt:9)\n";
        let c = "at com.shop.Cart.other(Cart.kt:42)\n at com.shop.Main.main(Main.kt:7)";
        assert_eq!(stack_hash("E", a), stack_hash("E", b));
        assert_ne!(stack_hash("E", a), stack_hash("E", c));
        assert_ne!(stack_hash("E", a), stack_hash("F", a));
        assert_eq!(stack_hash("E", a).len(), 16);
        // A web frame's URL keeps its path, not its query or fragment.
        let page =
            |q: &str| format!("Error: x\n    at f (https://shop.example/cart.html{q}:14:30)");
        assert_eq!(
            stack_hash("E", &page("")),
            stack_hash("E", &page("?utm_source=a#/paid"))
        );
        assert_ne!(
            stack_hash("E", &page("")),
            stack_hash(
                "E",
                "Error: x\n    at f (https://shop.example/pay.html:14:30)"
            )
        );
        let firefox = |q: &str| format!("misbehave/<@http://127.0.0.1:8080/page.html{q}:14:30\n");
        assert_eq!(
            stack_hash("E", &firefox("?route=cart")),
            stack_hash("E", &firefox(""))
        );
    }

    #[test]
    fn crash_properties_are_one_json_object() {
        let c = Crash {
            kind: "IllegalStateException".into(),
            message: "bad \"state\"".into(),
            stack: "x".repeat(MAX_STACK_BYTES + 10),
            fatal: true,
            source: "uncaught_exception".into(),
        };
        let p = crash_properties(&c, Some("1.2"), None);
        let v: serde_json::Value = serde_json::from_slice(p.as_bytes()).unwrap();
        assert_eq!(v["type"], "IllegalStateException");
        assert_eq!(v["fatal"], true);
        assert_eq!(v["appVersion"], "1.2");
        assert_eq!(v["stack"].as_str().unwrap().len(), MAX_STACK_BYTES);
        assert!(v.get("appBuild").is_none());
    }

    #[test]
    fn campaign_reads_utm_parameters() {
        let c =
            campaign("https://shop.example/p?utm_source=news&utm_campaign=spring%20sale&x=1#top")
                .unwrap();
        let v: serde_json::Value = serde_json::from_slice(c.as_bytes()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"source": "news", "name": "spring sale"})
        );
        assert!(campaign("https://shop.example/p?x=1").is_none());
        let odd =
            campaign("https://s.example/?utm_term=a+b%2&utm_medium=%FF%41&utm_content").unwrap();
        let v: serde_json::Value = serde_json::from_slice(odd.as_bytes()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"term": "a b%2", "medium": "%FF%41", "content": ""}),
            "a cut escape is kept, one that is not UTF-8 leaves the value as sent"
        );
        assert!(campaign("myapp://open").is_none());
    }
}
