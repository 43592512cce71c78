//! Geo and network facts of a client address from MaxMind-format
//! databases (GeoIP2 / GeoLite2 City or Country, and ASN), memory-mapped.
//!
//! The databases are opened at start-up and again whenever a file's
//! modification time changes (checked every `geo_reload_poll_secs` by the
//! task [`GeoDatabases::spawn_reload`] starts). A lookup holds an `Arc` of
//! the mapping it started with, so a reload never pulls a database from
//! under one. A file that cannot be opened is reported and the one in
//! force is kept.

use crate::reload::mtime;
use maxminddb::{Mmap, Reader, geoip2};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

/// What the databases know of one address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Geo {
    /// ISO 3166-1 country code.
    pub country: Option<String>,
    /// ISO 3166-2 code of the first subdivision (state, region).
    pub region: Option<String>,
    /// City name (English).
    pub city: Option<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// Autonomous system number.
    pub asn: Option<u32>,
    /// The AS's organisation.
    pub as_org: Option<String>,
}

/// One database file and the mapping in force.
struct Database {
    path: PathBuf,
    seen: Mutex<Option<SystemTime>>,
    reader: RwLock<Option<Arc<Reader<Mmap>>>>,
}

/// Maps a MaxMind database file.
#[allow(unsafe_code)]
fn open(path: &Path) -> Result<Reader<Mmap>, String> {
    // SAFETY: the mapping is read-only and the file is never written by
    // the gateway. What `open_mmap` requires is that nobody truncates or
    // rewrites the file in place while it is mapped; MaxMind's
    // `geoipupdate` (and the README's instructions) replace it by writing
    // a new file and renaming it over the old one, which leaves the old
    // inode, and so this mapping, intact until it is dropped.
    unsafe { Reader::open_mmap(path) }
        .map_err(|e| format!("cannot open geo database {}: {e}", path.display()))
}

impl Database {
    fn load(path: &Path) -> Result<Database, String> {
        let reader = open(path)?;
        Ok(Database {
            path: path.to_owned(),
            seen: Mutex::new(mtime(path)),
            reader: RwLock::new(Some(Arc::new(reader))),
        })
    }

    fn current(&self) -> Option<Arc<Reader<Mmap>>> {
        self.reader
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn reload_if_changed(&self) {
        let now = mtime(&self.path);
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if now.is_none() || now == *seen {
            return;
        }
        match open(&self.path) {
            Ok(r) => {
                *self
                    .reader
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(r));
                *seen = now;
                tracing::info!(db = %self.path.display(), "geo database reloaded");
            }
            Err(e) => tracing::error!("{e}; keeping the database in force"),
        }
    }
}

/// The configured databases.
pub struct GeoDatabases {
    city: Option<Database>,
    asn: Option<Database>,
}

impl GeoDatabases {
    /// Opens the databases given; `None` when neither is.
    pub fn open(city: Option<&Path>, asn: Option<&Path>) -> Result<Option<GeoDatabases>, String> {
        if city.is_none() && asn.is_none() {
            return Ok(None);
        }
        Ok(Some(GeoDatabases {
            city: city.map(Database::load).transpose()?,
            asn: asn.map(Database::load).transpose()?,
        }))
    }

    /// What the databases know of `ip`; empty when nothing.
    pub fn lookup(&self, ip: IpAddr) -> Geo {
        let mut geo = Geo::default();
        let own = |s: Option<&str>| s.map(str::to_owned);
        if let Some(reader) = self.city.as_ref().and_then(Database::current)
            && let Ok(found) = reader.lookup(ip)
            && let Ok(Some(c)) = found.decode::<geoip2::City>()
        {
            geo.country = own(c.country.iso_code);
            geo.region = own(c.subdivisions.first().and_then(|s| s.iso_code));
            geo.city = own(c.city.names.english);
            geo.postal_code = own(c.postal.code);
            geo.time_zone = own(c.location.time_zone);
        }
        if let Some(reader) = self.asn.as_ref().and_then(Database::current)
            && let Ok(found) = reader.lookup(ip)
            && let Ok(Some(a)) = found.decode::<geoip2::Asn>()
        {
            geo.asn = a.autonomous_system_number;
            geo.as_org = own(a.autonomous_system_organization);
        }
        geo
    }

    /// Opens changed files again.
    pub fn reload_if_changed(&self) {
        for db in [&self.city, &self.asn].into_iter().flatten() {
            db.reload_if_changed();
        }
    }

    /// Starts the task that checks the files every `poll` (and on
    /// SIGHUP); it ends when the databases are dropped.
    pub fn spawn_reload(self: &Arc<Self>, poll: Duration) {
        crate::reload::spawn_watch(Arc::downgrade(self), poll, |dbs, _| dbs.reload_if_changed());
    }
}

#[cfg(test)]
pub mod test_db;
#[cfg(test)]
mod tests;
