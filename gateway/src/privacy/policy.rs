//! One app's privacy rules, compiled from its `[privacy.apps.<app>]`
//! section: the path rules as a tree keyed by member name, the detectors
//! switched on, the HMAC key, and what is kept of the address.

use crate::config::{AppPrivacyConfig, BotRule, ID_ROOTS, IpRule, PiiPattern, PrivacyAction};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::IpAddr;

/// A level of the path-rule tree.
#[derive(Debug, Default)]
pub struct PathNode {
    /// Member name (with its quotes, as it stands in JSON text), node.
    named: Vec<(Quoted, PathNode)>,
    any: Option<Box<PathNode>>,
    /// The action on the value this node selects.
    pub action: Option<PrivacyAction>,
}

impl PathNode {
    fn insert(&mut self, segments: &[&str], action: PrivacyAction) {
        let Some((first, rest)) = segments.split_first() else {
            self.action.get_or_insert(action);
            return;
        };
        let child = if *first == "*" {
            self.any.get_or_insert_with(Box::default)
        } else {
            let at = match self.named.iter().position(|(k, _)| k.name() == *first) {
                Some(i) => i,
                None => {
                    self.named.push((Quoted::new(first), PathNode::default()));
                    self.named.len() - 1
                }
            };
            &mut self.named[at].1
        };
        child.insert(rest, action);
    }

    /// The nodes selecting member `key`: the named one, then `*`.
    pub fn members<'n>(&'n self, key: &str, into: &mut Vec<&'n PathNode>) {
        if let Some((_, n)) = self.named.iter().find(|(k, _)| k.name() == key) {
            into.push(n);
        }
        if let Some(n) = &self.any {
            into.push(n);
        }
    }

    /// The node of top-level object `root` (`properties`, `traits`,
    /// `context`), when any rule starts there.
    pub fn child_of_root(&self, root: &str) -> Option<&PathNode> {
        self.named
            .iter()
            .find(|(k, _)| k.name() == root)
            .map(|(_, n)| n)
    }

    /// Whether a rule below this node could select something in the JSON
    /// text `text`: it has a `*` (anything may match), or one of the keys
    /// it names appears in it, quoted. A cheap test that spares most
    /// objects the walk.
    pub fn may_select(&self, text: &str) -> bool {
        self.any.is_some()
            || self
                .named
                .iter()
                .any(|(k, n)| k.finder.find(text.as_bytes()).is_some() || n.may_select(text))
    }

    /// The nodes selecting an array element (`*` only).
    pub fn elements<'n>(&'n self, into: &mut Vec<&'n PathNode>) {
        if let Some(n) = &self.any {
            into.push(n);
        }
    }
}

/// A member name, and a searcher for it between quotes.
#[derive(Debug)]
struct Quoted {
    finder: memchr::memmem::Finder<'static>,
}

impl Quoted {
    fn new(name: &str) -> Quoted {
        Quoted {
            finder: memchr::memmem::Finder::new(format!("\"{name}\"").as_bytes()).into_owned(),
        }
    }

    fn name(&self) -> &str {
        let quoted = self.finder.needle();
        std::str::from_utf8(&quoted[1..quoted.len() - 1]).unwrap_or_default()
    }
}

/// One app's compiled rules.
pub struct AppPolicy {
    /// What is kept of the address.
    pub ip: IpRule,
    /// What happens to bots.
    pub bots: BotRule,
    /// Whether geo is looked up.
    pub geo: bool,
    /// Detectors switched on, with their actions.
    pub patterns: Vec<(PiiPattern, PrivacyAction)>,
    /// The same detectors, without their actions.
    pub kinds: Vec<PiiPattern>,
    /// Path rules from the event root.
    pub root: PathNode,
    /// Actions on `userId`, `anonymousId`, `groupId`, `previousId`.
    pub ids: [Option<PrivacyAction>; 4],
    hasher: Option<Hmac<Sha256>>,
}

impl AppPolicy {
    /// Compiles a section that passed [`AppPrivacyConfig::check`].
    pub fn compile(c: &AppPrivacyConfig) -> AppPolicy {
        let mut root = PathNode::default();
        let mut ids = [None; 4];
        for rule in &c.rules {
            let segments: Vec<&str> = rule.path.split('.').collect();
            // Id rules live in the tree too, for rewriting a whole
            // rejected event from its root.
            if let Some(i) = ID_ROOTS.iter().position(|r| *r == segments[0]) {
                ids[i].get_or_insert(rule.action);
            }
            root.insert(&segments, rule.action);
        }
        // An address the client wrote into its context is the app's to
        // keep only when it keeps addresses at all.
        if c.ip != IpRule::Keep {
            root.insert(&["context", "ip"], PrivacyAction::Drop);
        }
        AppPolicy {
            ip: c.ip,
            bots: c.bots,
            geo: c.geo.unwrap_or(true),
            patterns: c.patterns.iter().map(|(p, a)| (*p, *a)).collect(),
            kinds: c.patterns.keys().copied().collect(),
            root,
            ids,
            hasher: c
                .hash_key
                .as_deref()
                .and_then(|k| Hmac::<Sha256>::new_from_slice(k.as_bytes()).ok()),
        }
    }

    /// No rules: what an app without a section gets.
    pub fn none() -> &'static AppPolicy {
        static NONE: std::sync::LazyLock<AppPolicy> =
            std::sync::LazyLock::new(|| AppPolicy::compile(&AppPrivacyConfig::default()));
        &NONE
    }

    /// The address as stored under [`AppPolicy::ip`].
    pub fn stored_ip(&self, ip: IpAddr) -> Option<IpAddr> {
        match self.ip {
            IpRule::Keep => Some(ip),
            IpRule::Drop => None,
            IpRule::Truncate => Some(match ip {
                IpAddr::V4(v4) => {
                    let [a, b, c, _] = v4.octets();
                    IpAddr::from([a, b, c, 0])
                }
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    IpAddr::from([s[0], s[1], s[2], 0, 0, 0, 0, 0])
                }
            }),
        }
    }

    /// The action of detector `p`.
    pub fn pattern_action(&self, p: PiiPattern) -> PrivacyAction {
        self.patterns
            .iter()
            .find(|(q, _)| *q == p)
            .map_or(PrivacyAction::Mask, |(_, a)| *a)
    }

    /// The keyed hash of `value`, as lowercase hex. Without a key (which
    /// the configuration check does not let happen) the value is masked.
    pub fn hash(&self, value: &[u8]) -> String {
        match &self.hasher {
            Some(h) => {
                let mut h = h.clone();
                h.update(value);
                hex::encode(h.finalize().into_bytes())
            }
            None => "*".repeat(value.len()),
        }
    }

    /// `value` with `action` (mask or hash) applied.
    pub fn disguise(&self, action: PrivacyAction, value: &str) -> String {
        match action {
            PrivacyAction::Hash => self.hash(value.as_bytes()),
            _ => "*".repeat(value.chars().count()),
        }
    }
}
