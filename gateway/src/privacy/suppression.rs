//! Suppression: user and anonymous ids whose events are dropped at the
//! edge — the "stop processing" half of a deletion request (erasing what
//! is already stored is the lake's half).
//!
//! Ids come from the app's `suppressed_*` lists and from the suppression
//! file, one JSON object per line (`{"app":"shop","userId":"u1"}`), which
//! `POST /admin/suppressions` appends to. Appends are whole lines written
//! with one `write` and synced, so a crash leaves at most a torn last
//! line, which reading skips (and counts in the log).

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::{Read as _, Seek as _, Write as _};
use std::path::{Path, PathBuf};

/// One app's suppressed ids.
#[derive(Debug, Default, Clone)]
pub struct Suppressed {
    /// Suppressed `userId`s.
    pub users: HashSet<String>,
    /// Suppressed `anonymousId`s.
    pub anonymous: HashSet<String>,
}

impl Suppressed {
    /// Whether an event with these ids is suppressed.
    pub fn holds(&self, user_id: Option<&str>, anonymous_id: Option<&str>) -> bool {
        user_id.is_some_and(|u| self.users.contains(u))
            || anonymous_id.is_some_and(|a| self.anonymous.contains(a))
    }

    /// Whether there is no id.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.anonymous.is_empty()
    }

    /// Adds `id`.
    pub fn insert(&mut self, id: &Id) {
        match id {
            Id::User(u) => self.users.insert(u.clone()),
            Id::Anonymous(a) => self.anonymous.insert(a.clone()),
        };
    }
}

/// A suppressed id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Id {
    /// A `userId`.
    User(String),
    /// An `anonymousId`.
    Anonymous(String),
}

/// A line of the file, and the body of `POST /admin/suppressions`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Line {
    /// The app.
    pub app: String,
    /// The user id, or
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// the anonymous id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous_id: Option<String>,
}

impl Line {
    /// The id it names: exactly one of the two, not empty.
    pub fn id(&self) -> Option<Id> {
        match (&self.user_id, &self.anonymous_id) {
            (Some(u), None) if !u.is_empty() => Some(Id::User(u.clone())),
            (None, Some(a)) if !a.is_empty() => Some(Id::Anonymous(a.clone())),
            _ => None,
        }
    }
}

/// Why an id could not be added.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// `privacy.suppression_file` is not set.
    #[error(
        "no privacy.suppression_file is configured, so an id added here would not survive a restart"
    )]
    NoFile,
    /// Writing failed.
    #[error("cannot append to the suppression file: {0}")]
    Io(#[from] std::io::Error),
}

/// The suppression file.
pub struct SuppressionFile {
    path: PathBuf,
}

impl SuppressionFile {
    /// The file at `path` (it need not exist yet).
    pub fn new(path: PathBuf) -> SuppressionFile {
        SuppressionFile { path }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds the file's ids to `into`, per app. A missing file is empty.
    pub fn read_into(&self, into: &mut HashMap<String, Suppressed>) -> Result<(), String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "cannot read suppression file {}: {e}",
                    self.path.display()
                ));
            }
        };
        let mut skipped = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Line>(line)
                .ok()
                .and_then(|l| Some((l.id()?, l.app)))
            {
                Some((id, app)) => into.entry(app).or_default().insert(&id),
                None => skipped += 1,
            }
        }
        if skipped > 0 {
            tracing::warn!(file = %self.path.display(), skipped, "suppression file: unreadable lines skipped");
        }
        Ok(())
    }

    /// Appends `id` of `app` as one line, synced to disk.
    pub fn append(&self, app: &str, id: &Id) -> Result<(), AddError> {
        let (user_id, anonymous_id) = match id {
            Id::User(u) => (Some(u.clone()), None),
            Id::Anonymous(a) => (None, Some(a.clone())),
        };
        let mut line = serde_json::to_vec(&Line {
            app: app.to_owned(),
            user_id,
            anonymous_id,
        })
        .map_err(std::io::Error::other)?;
        line.push(b'\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&self.path)?;
        // A torn last line (a crash mid-append) must not swallow this one.
        let len = f.metadata()?.len();
        if len > 0 {
            let mut last = [0u8];
            f.seek(std::io::SeekFrom::Start(len - 1))?;
            f.read_exact(&mut last)?;
            if last != *b"\n" {
                line.insert(0, b'\n');
            }
        }
        f.write_all(&line)?;
        f.sync_data()?;
        Ok(())
    }
}
