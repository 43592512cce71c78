//! A client of the Confluent Schema Registry REST API (and of compatible
//! registries: Redpanda, Apicurio's ccompat API, Karapace), so an
//! organisation that already runs one can point Tributary at it.
//!
//! Reads build a whole [`Catalog`] (every subject, every version). Versions
//! and ids never change meaning in a registry, so each (subject, version)
//! is fetched once and remembered; a refresh only asks for the subject list
//! and version lists. When the registry is unreachable the caller keeps the
//! catalog it has (see [`Registry::reload`](crate::Registry::reload)).
//!
//! Calls are blocking (ureq): they run at start-up, on the refresh timer
//! and in the CLI, never on a request's path.

use crate::catalog::Catalog;
use crate::schema::{Schema, SchemaType};
use dashmap::DashMap;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// A registry endpoint.
pub struct ConfluentClient {
    base: String,
    auth: Option<String>,
    agent: ureq::Agent,
    versions: DashMap<(String, u32), Arc<Schema>>,
}

impl std::fmt::Debug for ConfluentClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfluentClient")
            .field("base", &self.base)
            .finish()
    }
}

#[derive(Deserialize)]
struct VersionBody {
    subject: String,
    version: u32,
    id: u32,
    #[serde(rename = "schemaType")]
    schema_type: Option<String>,
    schema: String,
}

#[derive(Deserialize)]
struct IdBody {
    id: u32,
}

/// Percent-encodes a subject for a URL path segment.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl ConfluentClient {
    /// A client of the registry at `url` (e.g. `http://registry:8081`).
    /// `basic_auth` is `user:password` for registries that require it.
    pub fn new(url: &str, basic_auth: Option<&str>, timeout: Duration) -> ConfluentClient {
        use base64::Engine;
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
        ConfluentClient {
            base: url.trim_end_matches('/').to_owned(),
            auth: basic_auth.map(|a| {
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(a)
                )
            }),
            agent,
            versions: DashMap::new(),
        }
    }

    /// The registry's base URL.
    pub fn url(&self) -> &str {
        &self.base
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<Option<T>, String> {
        let url = format!("{}/{path}", self.base);
        let mut req = self
            .agent
            .get(&url)
            .header("Accept", "application/vnd.schemaregistry.v1+json");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req.call().map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Ok(None);
        }
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("GET {url}: {e}"))?;
        if status != 200 {
            return Err(format!("GET {url}: HTTP {status}: {body}"));
        }
        serde_json::from_str(&body)
            .map(Some)
            .map_err(|e| format!("GET {url}: unexpected body: {e}"))
    }

    /// Every subject.
    pub fn subjects(&self) -> Result<Vec<String>, String> {
        Ok(self.get("subjects")?.unwrap_or_default())
    }

    /// One version of a subject (remembered once fetched).
    pub fn version(&self, subject: &str, version: u32) -> Result<Option<Arc<Schema>>, String> {
        let key = (subject.to_owned(), version);
        if let Some(s) = self.versions.get(&key) {
            return Ok(Some(s.clone()));
        }
        let body: Option<VersionBody> =
            self.get(&format!("subjects/{}/versions/{version}", segment(subject)))?;
        let Some(b) = body else { return Ok(None) };
        let schema_type = match b.schema_type.as_deref() {
            None | Some("AVRO") => {
                return Err(format!(
                    "{subject} v{version} is an Avro schema; Tributary takes JSON and PROTOBUF"
                ));
            }
            Some(t) => SchemaType::parse(t)
                .ok_or_else(|| format!("{subject} v{version}: unknown schemaType {t:?}"))?,
        };
        let s = Arc::new(Schema {
            id: b.id,
            subject: b.subject,
            version: b.version,
            schema_type,
            text: b.schema,
        });
        self.versions.insert(key, s.clone());
        Ok(Some(s))
    }

    /// Every version of every subject whose name passes `keep`.
    pub fn catalog(&self, keep: impl Fn(&str) -> bool) -> Result<Catalog, String> {
        let mut catalog = Catalog::default();
        for subject in self.subjects()?.into_iter().filter(|s| keep(s)) {
            let versions: Vec<u32> = self
                .get(&format!("subjects/{}/versions", segment(&subject)))?
                .unwrap_or_default();
            for v in versions {
                match self.version(&subject, v) {
                    Ok(Some(s)) => catalog.insert((*s).clone())?,
                    Ok(None) => {} // deleted between the two calls
                    // An Avro subject of another team is not ours to fail on.
                    Err(e) if e.contains("Avro") => break,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(catalog)
    }

    /// Registers `text` as the next version of `subject` (or finds it if
    /// already registered) and returns its id. The registry applies its own
    /// compatibility rule and refuses incompatible versions.
    pub fn register(
        &self,
        subject: &str,
        schema_type: SchemaType,
        text: &str,
    ) -> Result<u32, String> {
        let url = format!("{}/subjects/{}/versions", self.base, segment(subject));
        let body = serde_json::json!({ "schema": text, "schemaType": schema_type.as_str() });
        let mut req = self
            .agent
            .post(&url)
            .header("Content-Type", "application/vnd.schemaregistry.v1+json");
        if let Some(a) = &self.auth {
            req = req.header("Authorization", a);
        }
        let mut resp = req
            .send(body.to_string().as_bytes())
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("POST {url}: {e}"))?;
        if status != 200 {
            return Err(format!("POST {url}: HTTP {status}: {text}"));
        }
        serde_json::from_str::<IdBody>(&text)
            .map(|b| b.id)
            .map_err(|e| format!("POST {url}: unexpected body: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_are_escaped_in_paths() {
        assert_eq!(segment("shop.order_completed"), "shop.order_completed");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}
