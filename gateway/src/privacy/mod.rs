//! Privacy at the edge: each app's rules applied to its events before
//! they reach Kafka, the dead-letter topic, the spool or a log line, and
//! the suppression lists whose events are dropped.
//!
//! * [`policy`] — one app's rules, compiled;
//! * [`rewrite`] — applying them to raw JSON in one pass;
//! * [`patterns`] — the built-in e-mail, card and phone detectors;
//! * [`suppression`] — the suppression file and its appends.
//!
//! The rules in force come from `[privacy.apps.*]` and the optional rules
//! file, and are read again on SIGHUP and when a file changes, as the
//! keys are; a file that fails to parse or check is reported and the
//! rules in force are kept.

pub mod patterns;
pub mod policy;
pub mod rewrite;
pub mod suppression;

use crate::config::{AppPrivacyConfig, PrivacyConfig};
use crate::reload::mtime;
use policy::AppPolicy;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};
use suppression::{Suppressed, SuppressionFile};

/// The app id of the section that applies to apps without one.
pub const ANY_APP: &str = "*";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    apps: BTreeMap<String, AppPrivacyConfig>,
}

/// The rules and suppressions in force.
#[derive(Default, Clone)]
pub struct Policies {
    apps: HashMap<String, Arc<AppPolicy>>,
    suppressed: HashMap<String, Arc<Suppressed>>,
}

impl Policies {
    /// The rules of `app` (or of `"*"`); `None` when it has none.
    pub fn policy(&self, app: &str) -> Option<&Arc<AppPolicy>> {
        self.apps.get(app).or_else(|| self.apps.get(ANY_APP))
    }

    /// The ids suppressed for `app`.
    pub fn suppressed(&self, app: &str) -> Option<&Arc<Suppressed>> {
        self.suppressed.get(app)
    }
}

/// Where the rules come from, and those in force.
pub struct Privacy {
    inline: BTreeMap<String, AppPrivacyConfig>,
    rules_file: Option<PathBuf>,
    suppression: Option<SuppressionFile>,
    seen: Mutex<[Option<SystemTime>; 2]>,
    current: RwLock<Arc<Policies>>,
    poll: Duration,
    /// Held while the rules in force are rebuilt, so an id added while a
    /// reload runs is not lost from memory.
    editing: Mutex<()>,
}

impl Privacy {
    /// Loads the rules of `config`; fails if a file cannot be read or a
    /// rule is wrong.
    pub fn load(config: &PrivacyConfig) -> Result<Privacy, String> {
        let p = Privacy {
            inline: config.apps.clone(),
            rules_file: config.rules_file.clone(),
            suppression: config.suppression_file.clone().map(SuppressionFile::new),
            seen: Mutex::new([None, None]),
            current: RwLock::new(Arc::default()),
            poll: Duration::from_secs(config.poll_secs.max(1)),
            editing: Mutex::new(()),
        };
        p.reload()?;
        Ok(p)
    }

    /// The rules in force.
    pub fn current(&self) -> Arc<Policies> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn install(&self, policies: Policies) {
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(policies);
    }

    fn files(&self) -> [Option<&Path>; 2] {
        [
            self.rules_file.as_deref(),
            self.suppression.as_ref().map(SuppressionFile::path),
        ]
    }

    /// Reads the files again and installs the result; on error keeps the
    /// rules in force.
    pub fn reload(&self) -> Result<(), String> {
        let _editing = self
            .editing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let seen = self.files().map(|f| f.and_then(mtime));
        let mut sections = self.inline.clone();
        if let Some(path) = &self.rules_file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read privacy rules {}: {e}", path.display()))?;
            let file: RulesFile = toml::from_str(&text)
                .map_err(|e| format!("privacy rules {}: {e}", path.display()))?;
            let problems: Vec<String> = file
                .apps
                .iter()
                .flat_map(|(app, c)| c.check(&format!("{} apps.{app}", path.display())))
                .collect();
            if !problems.is_empty() {
                return Err(problems.join("; "));
            }
            sections.extend(file.apps);
        }
        let mut suppressed: HashMap<String, Suppressed> = HashMap::new();
        for (app, c) in &sections {
            let s = suppressed.entry(app.clone()).or_default();
            s.users.extend(c.suppressed_user_ids.iter().cloned());
            s.anonymous
                .extend(c.suppressed_anonymous_ids.iter().cloned());
        }
        if let Some(file) = &self.suppression {
            file.read_into(&mut suppressed)?;
        }
        let policies = Policies {
            apps: sections
                .iter()
                .map(|(app, c)| (app.clone(), Arc::new(AppPolicy::compile(c))))
                .collect(),
            suppressed: suppressed
                .into_iter()
                .filter(|(_, s)| !s.is_empty())
                .map(|(app, s)| (app, Arc::new(s)))
                .collect(),
        };
        self.install(policies);
        *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = seen;
        Ok(())
    }

    /// Starts the task that reloads on SIGHUP and when a file changes; it
    /// ends when the store is dropped.
    pub fn spawn_reloader(self: &Arc<Self>) {
        crate::reload::spawn_reloader(self, self.poll);
    }

    /// Adds a suppressed id for `app`: appended to the suppression file
    /// (durably) and in force here at once; other replicas sharing the
    /// file take it on their next check.
    pub fn suppress(&self, app: &str, id: suppression::Id) -> Result<(), suppression::AddError> {
        let file = self
            .suppression
            .as_ref()
            .ok_or(suppression::AddError::NoFile)?;
        let _editing = self
            .editing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        file.append(app, &id)?;
        let mut next = (*self.current()).clone();
        let mut s = next
            .suppressed
            .get(app)
            .map(|s| (**s).clone())
            .unwrap_or_default();
        s.insert(&id);
        next.suppressed.insert(app.to_owned(), Arc::new(s));
        self.install(next);
        Ok(())
    }
}

impl crate::reload::Reloadable for Privacy {
    const WHAT: &'static str = "privacy rules";

    fn changed(&self) -> bool {
        let seen = *self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.files().map(|f| f.and_then(mtime)) != seen
    }

    fn reload(&self) -> Result<(), String> {
        Privacy::reload(self)
    }
}

/// A rejected event and its rejection message as they may be stored in
/// the dead-letter topic under `policy`: the rules applied from the event
/// root, and every value they replaced (or a detector found) taken out of
/// the message too, since a schema error quotes the failing value. An
/// event too broken to read is withheld when the app has any rule, since
/// no rule can be applied to it.
pub fn scrub_rejected(policy: &AppPolicy, raw: &str, message: &str) -> (String, String) {
    let (text, mut replaced) =
        match rewrite::rewrite(raw, Some(&policy.root), policy, &rewrite::Edit::default()) {
            Some(r) => (r.text.unwrap_or_else(|| raw.to_owned()), r.replaced),
            None => (String::new(), vec![raw.to_owned()]),
        };
    replaced.extend(
        patterns::find(message, &policy.kinds)
            .into_iter()
            .map(|(a, b, _)| message[a..b].to_owned()),
    );
    let mut message = message.to_owned();
    for r in replaced.iter().filter(|r| r.len() >= 3) {
        message = message.replace(r.as_str(), "[redacted]");
    }
    (text, message)
}

#[cfg(test)]
mod tests;
