//! The routes file (`routing.routes_file`): more `[[routes]]` entries, read
//! at start-up and again when the file changes or on SIGHUP, so that an
//! event type can get its own topic without a restart (`tributary
//! onboard` writes to it). A new table is put in force only once the
//! topics it adds exist on their clusters (created when
//! `kafka.create_topics` allows); a file that does not parse, or whose
//! topics cannot be made, leaves the routes in force as they are.

use super::route::Router;
use super::send::Delivery;
use super::topics::ensure_topics;
use crate::config::{Config, RouteConfig};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The file's content.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutesFile {
    /// One entry per event type, as in `[[routing.routes]]`.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

impl RoutesFile {
    /// Reads `path`; a file that is not there holds no routes.
    pub fn read(path: &Path) -> anyhow::Result<RoutesFile> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("routes file {}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RoutesFile::default()),
            Err(e) => Err(anyhow::anyhow!("routes file {}: {e}", path.display())),
        }
    }

    /// The routes of `config`'s file (none without one).
    pub fn of(config: &Config) -> anyhow::Result<Vec<RouteConfig>> {
        Ok(match &config.routing.routes_file {
            Some(p) => RoutesFile::read(p)?.routes,
            None => Vec::new(),
        })
    }
}

/// Watches `config`'s routes file for `delivery` (nothing without one).
pub fn spawn(delivery: &Arc<Delivery>, config: &Config) {
    let Some(path) = config.routing.routes_file.clone() else {
        return;
    };
    let config = Arc::new(config.clone());
    let seen: Mutex<Option<SystemTime>> = Mutex::new(crate::reload::mtime(&path));
    let poll = Duration::from_secs(config.routing.routes_file_poll_secs.max(1));
    let weak = Arc::downgrade(delivery);
    crate::reload::spawn_watch(Arc::downgrade(delivery), poll, move |_, by_signal| {
        let now = crate::reload::mtime(&path);
        {
            let Ok(mut seen) = seen.lock() else { return };
            if !by_signal && *seen == now {
                return;
            }
            *seen = now;
        }
        let (weak, config, path) = (weak.clone(), config.clone(), path.clone());
        tokio::spawn(async move {
            let Some(delivery) = weak.upgrade() else {
                return;
            };
            match reload(&delivery, &config, &path).await {
                Ok(n) => tracing::info!(routes = n, file = %path.display(), "routes reloaded"),
                Err(e) => tracing::error!("{e:#}; keeping the routes in force"),
            }
        });
    });
}

/// Reads the file, makes sure the new table's topics exist, puts it in
/// force; returns how many routes the file has.
async fn reload(delivery: &Delivery, config: &Config, path: &Path) -> anyhow::Result<usize> {
    let file = RoutesFile::read(path)?;
    let router = Router::new(config, &file.routes);
    for (index, cluster) in delivery.clusters().iter().enumerate() {
        if let Some(spec) = &cluster.topics {
            ensure_topics(spec, &router.topics_of_cluster(Some(index)))
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "routes file {}: cluster {}: {e:#}",
                        path.display(),
                        cluster.name
                    )
                })?;
        }
    }
    delivery.set_router(router);
    Ok(file.routes.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_holds_no_routes_and_a_bad_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routes.toml");
        assert!(RoutesFile::read(&path).unwrap().routes.is_empty());
        std::fs::write(
            &path,
            "[[routes]]\nevent = \"Coupon Redeemed\"\napp = \"shop\"\n",
        )
        .unwrap();
        let r = RoutesFile::read(&path).unwrap();
        assert_eq!(
            (r.routes[0].event.as_str(), r.routes[0].app.as_deref()),
            ("Coupon Redeemed", Some("shop"))
        );
        std::fs::write(&path, "[[routes]]\nevnt = 1\n").unwrap();
        assert!(RoutesFile::read(&path).is_err());
    }
}
