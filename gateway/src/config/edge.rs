//! The configuration sections of what the gateway adds to and removes from
//! events at the edge: `[enrichment]` (user agent, geo, bots) and
//! `[privacy]` (per-app rules, suppression). The per-app part has the same
//! shape inline (`[privacy.apps.<app>]`) and in the reloadable rules file
//! (`[apps.<app>]`), so both are checked by [`AppPrivacyConfig::check`].

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `[enrichment]`: facts only the server knows, added to every event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnrichmentConfig {
    /// Write the client's address into `context.ip` (after the app's IP
    /// rule) and look it up in the geo databases. Default `true`.
    pub ip: bool,
    /// Parse the user agent (`context.userAgent`, else the request's
    /// `User-Agent`) into browser, OS and device. Default `true`.
    pub user_agent: bool,
    /// Distinct user agents remembered once parsed. Default `10000`.
    pub user_agent_cache: usize,
    /// A MaxMind GeoIP2 / GeoLite2 City (or Country) database: country,
    /// region, city, postal code, time zone. Default: none (no geo).
    pub geo_city_db: Option<PathBuf>,
    /// A MaxMind GeoLite2 / GeoIP2 ASN database: AS number and
    /// organisation. Default: none.
    pub geo_asn_db: Option<PathBuf>,
    /// How often the databases' modification times are checked; a changed
    /// file is opened again and replaces the old one. Default `60`.
    pub geo_reload_poll_secs: u64,
    /// Networks (CIDRs) whose traffic is flagged as bots, such as a
    /// crawler's or a monitoring service's published ranges. Default none.
    pub bot_networks: Vec<String>,
}

impl Default for EnrichmentConfig {
    fn default() -> Self {
        EnrichmentConfig {
            ip: true,
            user_agent: true,
            user_agent_cache: 10_000,
            geo_city_db: None,
            geo_asn_db: None,
            geo_reload_poll_secs: 60,
            bot_networks: Vec::new(),
        }
    }
}

/// `[privacy]`: what is removed or disguised before an event is stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    /// A TOML file of `[apps.<app>]` sections (the shape of
    /// `[privacy.apps.<app>]`), read again on SIGHUP and when it changes;
    /// its sections replace the inline ones of the same app. A file that
    /// fails to parse or check is reported and the rules in force are kept.
    /// Default: none.
    pub rules_file: Option<PathBuf>,
    /// How often `rules_file` and `suppression_file` are checked for
    /// changes, in seconds. Default `5`.
    pub poll_secs: u64,
    /// Suppressed ids, one JSON object per line
    /// (`{"app":"shop","userId":"u1"}` or `"anonymousId"`), appended to by
    /// `POST /admin/suppressions` and reloaded when it changes. Replicas
    /// that share the file share the list. Default: none (the endpoint
    /// then answers 409).
    pub suppression_file: Option<PathBuf>,
    /// Bearer token of the `/admin/*` endpoints; without one they answer
    /// 404. Default: none.
    pub admin_token: Option<String>,
    /// Rules per app id; `"*"` applies to apps without a section of their
    /// own.
    pub apps: BTreeMap<String, AppPrivacyConfig>,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            rules_file: None,
            poll_secs: 5,
            suppression_file: None,
            admin_token: None,
            apps: BTreeMap::new(),
        }
    }
}

/// What is kept of the client's address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IpRule {
    /// The whole address.
    #[default]
    Keep,
    /// IPv4 cut to its /24, IPv6 to its /48 (geo is looked up first, from
    /// the whole address).
    Truncate,
    /// No address is stored; geo is still looked up from it.
    Drop,
}

/// What happens to events flagged as bots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotRule {
    /// Kept, with `bot: true` in `tb-enrichment`.
    #[default]
    Tag,
    /// Dropped at the edge, answered as accepted, counted
    /// (`tributary_events_total{outcome="dropped",code="bot"}`).
    Drop,
}

/// What a privacy rule does to the value it selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyAction {
    /// The member (or array element) is removed.
    Drop,
    /// Every character is replaced by `*`, keeping the length.
    Mask,
    /// Replaced by the hex HMAC-SHA256 of the value under the app's
    /// `hash_key`: the same input always gives the same output, so joins
    /// on it still work, and without the key it cannot be reversed by
    /// hashing guesses.
    Hash,
}

/// A built-in detector of personal data inside string values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PiiPattern {
    /// `local@domain.tld`.
    Email,
    /// 13 to 19 digits (spaces or dashes between groups) passing the Luhn
    /// check.
    Card,
    /// `+` and 8 to 15 digits, or the North American `(555) 123-4567` /
    /// `555-123-4567` forms.
    Phone,
}

/// One rule on a JSON path of the event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathRuleConfig {
    /// Dot-separated keys from the event root: `properties.email`,
    /// `traits.*`, `context.device.advertisingId`, `properties.items.*.sku`.
    /// `*` matches any key or any array element at its level. Roots:
    /// `properties`, `traits`, `context`, and the ids `userId`,
    /// `anonymousId`, `groupId`, `previousId` (which take `mask` or
    /// `hash`, not `drop`).
    pub path: String,
    /// `drop`, `mask` or `hash`.
    pub action: PrivacyAction,
}

/// `[privacy.apps.<app>]`: one app's privacy rules.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppPrivacyConfig {
    /// What is kept of the client's address. Default `keep`.
    pub ip: IpRule,
    /// Events flagged as bots: `tag` or `drop`. Default `tag`.
    pub bots: BotRule,
    /// Look up geo and network for this app's events. Default `true`
    /// (when `[enrichment]` has databases).
    pub geo: Option<bool>,
    /// The HMAC key of `hash` actions; required when any is used. Keep it
    /// secret: with it, anyone can test guesses against hashed values.
    pub hash_key: Option<String>,
    /// Built-in detectors switched on, each with its action, for example
    /// `{ email = "hash", card = "mask" }`. They look inside every string
    /// of `properties`, `traits` and `context` (and of the whole event
    /// when it is dead-lettered); unknown top-level fields are not looked
    /// at.
    pub patterns: BTreeMap<PiiPattern, PrivacyAction>,
    /// Rules on paths. A rule on a member covers everything below it; where
    /// a named key and `*` both select a value, the named key's rule wins.
    pub rules: Vec<PathRuleConfig>,
    /// `userId`s whose events are dropped at the edge.
    pub suppressed_user_ids: Vec<String>,
    /// `anonymousId`s whose events are dropped at the edge.
    pub suppressed_anonymous_ids: Vec<String>,
}

/// Top-level event fields a path rule may start at that hold an object.
pub const OBJECT_ROOTS: [&str; 3] = ["properties", "traits", "context"];
/// Top-level id fields a path rule may name (one segment, no drop).
pub const ID_ROOTS: [&str; 4] = ["userId", "anonymousId", "groupId", "previousId"];

impl AppPrivacyConfig {
    /// Every problem of this app's rules, each naming `at` (where the
    /// section is: `privacy.apps.shop` or `<file> apps.shop`).
    pub fn check(&self, at: &str) -> Vec<String> {
        let mut bad = Vec::new();
        let hashes = self.rules.iter().any(|r| r.action == PrivacyAction::Hash)
            || self.patterns.values().any(|a| *a == PrivacyAction::Hash);
        if hashes && self.hash_key.as_deref().is_none_or(|k| k.len() < 16) {
            bad.push(format!(
                "{at}.hash_key: `hash` rules need a key of at least 16 characters"
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let segments: Vec<&str> = r.path.split('.').collect();
            let root = segments[0];
            if segments.iter().any(|s| s.is_empty()) {
                bad.push(format!(
                    "{at}.rules[{i}].path {:?} has an empty segment",
                    r.path
                ));
            } else if ID_ROOTS.contains(&root) {
                if segments.len() > 1 {
                    bad.push(format!(
                        "{at}.rules[{i}].path {:?}: {root} is a string, it has no members",
                        r.path
                    ));
                } else if r.action == PrivacyAction::Drop {
                    bad.push(format!(
                        "{at}.rules[{i}]: {root} can be masked or hashed, not dropped"
                    ));
                }
            } else if !OBJECT_ROOTS.contains(&root) {
                bad.push(format!(
                    "{at}.rules[{i}].path {:?} must start with one of {}, {}",
                    r.path,
                    OBJECT_ROOTS.join(", "),
                    ID_ROOTS.join(", ")
                ));
            } else if segments.len() == 1 {
                bad.push(format!(
                    "{at}.rules[{i}].path {:?}: name a member ({root}.*  for all of them)",
                    r.path
                ));
            }
        }
        bad
    }
}
