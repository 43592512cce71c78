//! User agents: browser, OS and device family from woothee's published
//! rule set, and the bot flag from woothee's crawler rules and isbot's
//! crawler list (omrilotan/isbot's patterns, compiled into one regex).
//!
//! Both are compiled once per gateway. Parsing costs microseconds, so
//! results are remembered per distinct agent in a bounded table: apps send
//! few distinct agents, and a client cycling through random ones only
//! refills the table (cleared when full) instead of growing it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// What a user agent says about the client. Fields are `None` where the
/// rule set does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agent {
    /// Browser or app family: `Chrome`, `Safari`, `Firefox`, `Webview`.
    pub browser: Option<String>,
    /// Its version.
    pub browser_version: Option<String>,
    /// OS family: `Windows 10`, `Mac OSX`, `iPhone`, `Android`, `Linux`.
    pub os: Option<String>,
    /// Its version.
    pub os_version: Option<String>,
    /// Device family: `pc`, `smartphone`, `mobilephone`, `appliance`,
    /// `crawler`, `misc`.
    pub device: Option<String>,
    /// A crawler, monitor, HTTP library or headless browser.
    pub bot: bool,
}

/// HTTP clients apps ship with that isbot's list counts as bots: real
/// users' events arrive through them.
const APP_HTTP_CLIENTS: [&str; 1] = ["okhttp"];

/// The parsers and the table of agents already parsed.
pub struct Agents {
    parser: woothee::parser::Parser,
    bots: isbot::Bots,
    known: Mutex<HashMap<Box<str>, Arc<Agent>>>,
    capacity: usize,
}

fn known(s: &str) -> Option<String> {
    (!s.is_empty() && s != woothee::woothee::VALUE_UNKNOWN).then(|| s.to_owned())
}

/// The OS and version a native app's agent names when woothee knows none
/// of it: `... (iOS 17.5.1) Alamofire/5.9`, `... CFNetwork/1496 Darwin/23`.
fn native_os(agent: &str) -> Option<(String, Option<String>)> {
    for family in ["Android", "iOS", "iPadOS"] {
        let Some(at) = agent.find(&format!("{family} ")) else {
            continue;
        };
        let version: String = agent[at + family.len() + 1..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        if !version.is_empty() {
            return Some((family.to_owned(), Some(version)));
        }
    }
    agent
        .contains("CFNetwork/")
        .then(|| ("iOS".to_owned(), None))
}

impl Agents {
    /// The parsers, remembering up to `capacity` agents.
    pub fn new(capacity: usize) -> Agents {
        let mut bots = isbot::Bots::default();
        bots.remove(&APP_HTTP_CLIENTS);
        Agents {
            parser: woothee::parser::Parser::new(),
            bots,
            known: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
        }
    }

    /// What `agent` says, parsed once.
    pub fn parse(&self, agent: &str) -> Arc<Agent> {
        if let Some(a) = self.lock().get(agent) {
            return a.clone();
        }
        let parsed = Arc::new(self.parse_uncached(agent));
        let mut known = self.lock();
        if known.len() >= self.capacity {
            known.clear();
        }
        known.insert(agent.into(), parsed.clone());
        parsed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<Agent>>> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn parse_uncached(&self, agent: &str) -> Agent {
        let bot = self.bots.is_bot(agent);
        let mut a = match self.parser.parse(agent) {
            Some(r) => Agent {
                browser: known(r.name),
                browser_version: known(r.version),
                os: known(r.os),
                os_version: known(&r.os_version),
                device: known(r.category),
                bot: bot || r.category == "crawler",
            },
            None => Agent {
                bot,
                ..Agent::default()
            },
        };
        if a.os.is_none() || a.os_version.is_none() {
            if let Some((os, version)) = native_os(agent) {
                a.os.get_or_insert(os);
                a.os_version = a.os_version.or(version);
                a.device.get_or_insert_with(|| "smartphone".to_owned());
            }
        }
        a
    }
}

#[cfg(test)]
mod tests;
