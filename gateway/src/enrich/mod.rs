//! Edge enrichment: what only the server knows about the sender of an
//! event, added to it before it is stored — the client's address (found
//! by `admission::client_ip`), its user agent parsed ([`user_agent`]),
//! geo and network from MaxMind databases ([`geo`]), and whether it is a
//! bot. The app's privacy rules (`crate::privacy`) then decide how much of
//! the address is kept.
//!
//! One request has one address and usually one agent, so the decide step
//! asks for the facts once per distinct pair in a request, not per event.
//! Where each fact lands (`context.ip`, the `tb-enrichment` header, the
//! pipeline's columns) is in `docs/contract.md`.

pub mod geo;
pub mod user_agent;

use crate::config::{EnrichmentConfig, parse_network};
use geo::{Geo, GeoDatabases};
use ipnet::IpNet;
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;
use user_agent::{Agent, Agents};

/// The enrichment stages as configured.
pub struct Enricher {
    /// `enrichment.ip`.
    pub ip: bool,
    agents: Option<Agents>,
    geo: Option<Arc<GeoDatabases>>,
    bot_networks: Vec<IpNet>,
}

/// What the edge found out about one sender.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Geo and network of the address.
    pub geo: Geo,
    /// The parsed agent.
    pub agent: Option<Arc<Agent>>,
    /// Flagged as a bot, by its agent or its network.
    pub bot: bool,
}

/// The `tb-enrichment` header value: flat, so consumers read one level.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Header<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_zone: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    as_org: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    browser: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    browser_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    os_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    bot: bool,
}

impl Facts {
    /// The `tb-enrichment` value for these facts and the address as
    /// stored (after the app's IP rule); `None` when there is nothing.
    pub fn header(&self, stored_ip: Option<&str>) -> Option<String> {
        let g = &self.geo;
        let a = self.agent.as_deref();
        let h = Header {
            ip: stored_ip,
            country: g.country.as_deref(),
            region: g.region.as_deref(),
            city: g.city.as_deref(),
            postal_code: g.postal_code.as_deref(),
            time_zone: g.time_zone.as_deref(),
            asn: g.asn,
            as_org: g.as_org.as_deref(),
            browser: a.and_then(|a| a.browser.as_deref()),
            browser_version: a.and_then(|a| a.browser_version.as_deref()),
            os: a.and_then(|a| a.os.as_deref()),
            os_version: a.and_then(|a| a.os_version.as_deref()),
            device: a.and_then(|a| a.device.as_deref()),
            bot: self.bot,
        };
        let text = serde_json::to_string(&h).ok()?;
        (text != "{}").then_some(text)
    }
}

impl Enricher {
    /// The stages of `config`, with its databases opened.
    pub fn new(config: &EnrichmentConfig) -> Result<Enricher, String> {
        let geo = GeoDatabases::open(config.geo_city_db.as_deref(), config.geo_asn_db.as_deref())?
            .map(Arc::new);
        let bot_networks = config
            .bot_networks
            .iter()
            .map(|n| parse_network(n))
            .collect::<Result<_, _>>()?;
        Ok(Enricher {
            ip: config.ip,
            agents: config
                .user_agent
                .then(|| Agents::new(config.user_agent_cache)),
            geo,
            bot_networks,
        })
    }

    /// Whether any stage runs.
    pub fn is_on(&self) -> bool {
        self.ip || self.agents.is_some() || self.geo.is_some() || !self.bot_networks.is_empty()
    }

    /// The geo databases, for the reload task.
    pub fn geo(&self) -> Option<&Arc<GeoDatabases>> {
        self.geo.as_ref()
    }

    /// What the edge knows of a sender at `ip` with `agent`; `with_geo`
    /// is the app's choice.
    pub fn facts(&self, ip: Option<IpAddr>, agent: Option<&str>, with_geo: bool) -> Facts {
        let agent = match (&self.agents, agent) {
            (Some(agents), Some(a)) if !a.is_empty() => Some(agents.parse(a)),
            _ => None,
        };
        let geo = match (&self.geo, ip) {
            (Some(dbs), Some(ip)) if with_geo && self.ip => dbs.lookup(ip),
            _ => Geo::default(),
        };
        let listed = ip.is_some_and(|ip| self.bot_networks.iter().any(|n| n.contains(&ip)));
        Facts {
            bot: listed || agent.as_ref().is_some_and(|a| a.bot),
            geo,
            agent,
        }
    }
}
