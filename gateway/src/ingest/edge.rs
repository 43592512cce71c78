//! The edge stage of the decide step: suppression, enrichment and the
//! app's privacy rules, applied to one checked event before anything of it
//! is written. Its output replaces the event's context, properties,
//! traits and ids, and adds the `tb-enrichment` header.
//!
//! A request has one client address and, mostly, one context and one
//! user agent for all its events, so what depends only on those is
//! worked out once per distinct value in the request and remembered: the
//! facts and header per (address, agent), the rewritten context per
//! context text.

use crate::config::{BotRule, PrivacyAction};
use crate::enrich::Enricher;
use crate::privacy::patterns;
use crate::privacy::policy::AppPolicy;
use crate::privacy::rewrite::{Edit, rewrite};
use crate::privacy::suppression::Suppressed;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use tributary_contract::view::EventView;

/// What the edge stage needs to know about the request.
#[derive(Clone, Copy)]
pub struct Edge<'s> {
    /// The enrichment stages.
    pub enricher: &'s Enricher,
    /// The app's privacy rules, if it has any.
    pub policy: Option<&'s AppPolicy>,
    /// The app's suppressed ids, if any.
    pub suppressed: Option<&'s Suppressed>,
    /// The write key is a server library's: the events' own `context.ip`
    /// and `context.userAgent` are the end user's.
    pub server_side: bool,
    /// The client's address (`admission::client_ip`).
    pub client_ip: Option<IpAddr>,
    /// The request's `User-Agent`.
    pub request_agent: Option<&'s str>,
}

/// Why an event was dropped at the edge (the `code` of its
/// `tributary_events_total{outcome="dropped"}` count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Its user or anonymous id is suppressed.
    Suppressed,
    /// It is a bot's, and the app drops bots.
    Bot,
}

impl Dropped {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Dropped::Suppressed => "suppressed",
            Dropped::Bot => "bot",
        }
    }
}

/// The edge stage's changes to one event.
#[derive(Debug, Default)]
pub struct Applied {
    /// The context to store (compact), with `ip` set; `None`: none.
    pub context: Option<Arc<str>>,
    /// Rewritten `properties`, when a rule changed them.
    pub properties: Option<String>,
    /// Rewritten `traits`, when a rule changed them.
    pub traits: Option<String>,
    /// Disguised `userId`, `anonymousId`, `groupId`, `previousId`.
    pub ids: [Option<String>; 4],
    /// The `tb-enrichment` header value.
    pub enrichment: Option<Arc<str>>,
}

impl Applied {
    /// `view` with these changes: borrowing from `self`, so it lives as
    /// long as both.
    /// The context is replaced even when `None`: it is the effective
    /// one, the batch's already merged in.
    pub fn onto<'v>(&'v self, mut view: EventView<'v>) -> EventView<'v> {
        view.context = self.context.as_deref();
        view.context_is_compact = true;
        if let Some(p) = &self.properties {
            view.properties = Some(p);
        }
        if let Some(t) = &self.traits {
            view.traits = Some(t);
        }
        let [user, anonymous, group, previous] = &self.ids;
        for (field, new) in [
            (&mut view.user_id, user),
            (&mut view.anonymous_id, anonymous),
            (&mut view.group_id, group),
            (&mut view.previous_id, previous),
        ] {
            if let Some(v) = new {
                *field = Some(Cow::Borrowed(v));
            }
        }
        view
    }
}

/// The facts of one (address, agent) pair of the request.
struct Sighting {
    ip: Option<IpAddr>,
    agent: Option<String>,
    bot: bool,
    header: Option<Arc<str>>,
}

/// A context already rewritten in this request.
struct SeenContext {
    text: String,
    ip: Option<IpAddr>,
    out: Option<Arc<str>>,
    agent: Option<String>,
}

/// Distinct contexts and pairs remembered per request.
const REMEMBERED: usize = 8;

/// The edge stage of one request.
pub struct EdgeStage<'s> {
    edge: Edge<'s>,
    sightings: Vec<Sighting>,
    contexts: Vec<SeenContext>,
}

impl<'s> EdgeStage<'s> {
    /// The stage for a request described by `edge`.
    pub fn new(edge: Edge<'s>) -> EdgeStage<'s> {
        EdgeStage {
            edge,
            sightings: Vec::new(),
            contexts: Vec::new(),
        }
    }

    /// Whether the stage has anything to do at all.
    pub fn is_on(&self) -> bool {
        self.edge.enricher.is_on() || self.edge.policy.is_some() || self.edge.suppressed.is_some()
    }

    /// Applies suppression, enrichment and the privacy rules to `view`,
    /// whose effective context (batch and own, merged, compact) is
    /// `context`.
    pub fn apply(
        &mut self,
        view: &EventView<'_>,
        context: Option<&str>,
    ) -> Result<Applied, Dropped> {
        let e = self.edge;
        if e.suppressed
            .is_some_and(|s| s.holds(view.user_id.as_deref(), view.anonymous_id.as_deref()))
        {
            return Err(Dropped::Suppressed);
        }
        let mut applied = Applied::default();
        // A server library's events name their end user's address and
        // agent; a device's are its own connection's and request's.
        let (ip, own_agent) = if e.server_side {
            let [ip, agent] = context.map(top_strings).unwrap_or_default();
            (
                ip.and_then(|s| s.parse().ok())
                    .map(crate::admission::client_ip::canonical),
                agent,
            )
        } else {
            (e.client_ip, None)
        };
        let context_out = self.context(context, ip, e.server_side);
        applied.context = context_out.0;
        let agent = own_agent.or(context_out.1).or_else(|| {
            (!e.server_side)
                .then(|| e.request_agent.map(str::to_owned))
                .flatten()
        });
        let sighting = self.sighting(ip, agent);
        if sighting.bot && e.policy.is_some_and(|p| p.bots == BotRule::Drop) {
            return Err(Dropped::Bot);
        }
        applied.enrichment = sighting.header.clone();
        if let Some(p) = e.policy {
            let node = |root| p.root.child_of_root(root);
            for (raw, root, into) in [
                (view.properties, "properties", &mut applied.properties),
                (view.traits, "traits", &mut applied.traits),
            ] {
                if let Some(raw) = raw
                    && (patterns::may_match(raw, &p.kinds)
                        || node(root).is_some_and(|n| n.may_select(raw)))
                {
                    *into = rewrite(raw, node(root), p, &Edit::default()).and_then(|r| r.text);
                }
            }
            let ids = [
                &view.user_id,
                &view.anonymous_id,
                &view.group_id,
                &view.previous_id,
            ];
            for ((id, action), into) in ids.into_iter().zip(p.ids).zip(&mut applied.ids) {
                if let (Some(id), Some(a)) = (id, action)
                    && a != PrivacyAction::Drop
                {
                    *into = Some(p.disguise(a, id));
                }
            }
        }
        Ok(applied)
    }

    /// The context to store for effective context `context` from a client
    /// at `ip`, and the agent it names (`context.userAgent`), remembered
    /// per text. `agent_known`: it was read from this context already.
    fn context(
        &mut self,
        context: Option<&str>,
        ip: Option<IpAddr>,
        agent_known: bool,
    ) -> (Option<Arc<str>>, Option<String>) {
        let text = context.unwrap_or("{}");
        if let Some(seen) = self.contexts.iter().find(|c| c.ip == ip && c.text == text) {
            return (seen.out.clone(), seen.agent.clone());
        }
        let e = self.edge;
        let ip_json = self.stored_ip(ip).map(|ip| format!("\"{ip}\""));
        let set = [("ip", ip_json.as_deref())];
        let edit = Edit {
            set: if e.enricher.ip { &set } else { &[] },
            capture: if agent_known { &[] } else { &["userAgent"] },
        };
        let node = e.policy.and_then(|p| p.root.child_of_root("context"));
        let out = rewrite(
            text,
            node,
            e.policy.unwrap_or_else(|| AppPolicy::none()),
            &edit,
        );
        let (out, agent) = match out {
            Some(r) => {
                let agent = r.captured.into_iter().next().flatten();
                let kept = r
                    .text
                    .map(Arc::<str>::from)
                    .or_else(|| context.map(Arc::from));
                (kept, agent)
            }
            None => (context.map(Arc::from), None),
        };
        // An empty object stands for "no context" when nothing was added.
        let out = out.filter(|c| context.is_some() || &**c != "{}");
        if self.contexts.len() < REMEMBERED {
            self.contexts.push(SeenContext {
                text: text.to_owned(),
                ip,
                out: out.clone(),
                agent: agent.clone(),
            });
        }
        (out, agent)
    }

    /// The address as stored: after the app's `ip` rule, and only when
    /// `enrichment.ip` is on.
    fn stored_ip(&self, ip: Option<IpAddr>) -> Option<IpAddr> {
        let ip = ip.filter(|_| self.edge.enricher.ip)?;
        match self.edge.policy {
            Some(p) => p.stored_ip(ip),
            None => Some(ip),
        }
    }

    /// The facts of a sender at `ip` with `agent`, remembered per pair.
    fn sighting(&mut self, ip: Option<IpAddr>, agent: Option<String>) -> &Sighting {
        if let Some(i) = self
            .sightings
            .iter()
            .position(|s| s.ip == ip && s.agent == agent)
        {
            return &self.sightings[i];
        }
        let e = self.edge;
        let with_geo = e.policy.is_none_or(|p| p.geo);
        let facts = e.enricher.facts(ip, agent.as_deref(), with_geo);
        let stored_text = self.stored_ip(ip).map(|ip| ip.to_string());
        let s = Sighting {
            ip,
            bot: facts.bot,
            header: facts.header(stored_text.as_deref()).map(Arc::from),
            agent,
        };
        if self.sightings.len() >= REMEMBERED {
            self.sightings.remove(0);
        }
        self.sightings.push(s);
        &self.sightings[self.sightings.len() - 1]
    }
}

/// `ip` and `userAgent` of a context object, read without rewriting it.
fn top_strings(context: &str) -> [Option<String>; 2] {
    let mut found = [None, None];
    let edit = Edit {
        set: &[],
        capture: &["ip", "userAgent"],
    };
    if let Some(r) = rewrite(context, None, AppPolicy::none(), &edit) {
        for (slot, v) in found.iter_mut().zip(r.captured) {
            *slot = v;
        }
    }
    found
}
