//! Routing: which Kafka topic an event goes to.
//!
//! Each event type gets its own topic so it can be scaled, retained and
//! consumed on its own, and a flood of one type cannot delay another. Track
//! events route by `event` name; the other kinds route by kind
//! (`tributary.identify`, ...). A track name with no route goes to the
//! catch-all topic, or is rejected, per `routing.unrouted`.

use crate::config::{AckMode, Config, RouteConfig, UnroutedPolicy};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tributary_contract::EventType;
use tributary_contract::view::EventView;

/// Where an event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Kafka topic.
    pub topic: Arc<str>,
    /// Delivery mode of this route, overriding the write key's.
    pub ack: Option<AckMode>,
    /// The event matched no route and uses the catch-all topic.
    pub unrouted: bool,
    /// Index of the Kafka cluster (0 = `default`, then named clusters in
    /// name order; see `KafkaConfig::cluster_names`).
    pub cluster: usize,
}

/// Routes of one scope (one app, or any app): track events by name, the
/// other kinds by kind. Looked up with borrowed names, so routing an event
/// allocates nothing.
#[derive(Debug, Default)]
struct Table {
    track: HashMap<String, Target>,
    kinds: HashMap<EventType, Target>,
}

impl Table {
    fn get(&self, kind: EventType, name: &str) -> Option<&Target> {
        match kind {
            EventType::Track => self.track.get(name),
            other => self.kinds.get(&other),
        }
    }

    fn insert(&mut self, kind: EventType, name: &str, target: Target) {
        match kind {
            EventType::Track => self.track.insert(name.to_owned(), target),
            other => self.kinds.insert(other, target),
        };
    }

    fn targets(&self) -> impl Iterator<Item = &Target> {
        self.track.values().chain(self.kinds.values())
    }
}

/// The routing table, built from the configuration and the routes file
/// (and built again when that file changes).
#[derive(Debug)]
pub struct Router {
    per_app: HashMap<String, Table>,
    any_app: Table,
    catch_all: Option<Target>,
    unvalidated: Option<Target>,
    overflow: Option<Target>,
    dead_letter: Arc<str>,
}

pub use tributary_contract::topic::slug as topic_slug;

impl Router {
    /// Builds the table: configured routes, then `more` (the routes
    /// file's, which win for the same event), then one default route per
    /// non-track kind.
    pub fn new(config: &Config, more: &[RouteConfig]) -> Router {
        let prefix = &config.routing.topic_prefix;
        let names = config.kafka.cluster_names();
        let index = |c: &Option<String>| {
            c.as_ref()
                .and_then(|c| names.iter().position(|n| n == c))
                .unwrap_or(0)
        };
        let mut per_app: HashMap<String, Table> = HashMap::new();
        let mut any_app = Table::default();
        for r in config.routing.routes.iter().chain(more) {
            let kind = EventType::parse(&r.event)
                .filter(|k| *k != EventType::Track)
                .unwrap_or(EventType::Track);
            let topic = r
                .topic
                .clone()
                .unwrap_or_else(|| format!("{prefix}{}", topic_slug(&r.event)));
            let target = Target {
                topic: Arc::from(topic),
                ack: r.ack,
                unrouted: false,
                cluster: index(&r.cluster),
            };
            match &r.app {
                Some(app) => per_app
                    .entry(app.clone())
                    .or_default()
                    .insert(kind, &r.event, target),
                None => any_app.insert(kind, &r.event, target),
            }
        }
        for kind in EventType::ALL
            .into_iter()
            .filter(|k| *k != EventType::Track)
        {
            any_app.kinds.entry(kind).or_insert_with(|| Target {
                topic: Arc::from(format!("{prefix}{}", kind.as_str())),
                ack: None,
                unrouted: false,
                cluster: 0,
            });
        }
        let catch_all = (config.routing.unrouted == UnroutedPolicy::CatchAll).then(|| Target {
            topic: Arc::from(config.catch_all_topic()),
            ack: None,
            unrouted: true,
            cluster: 0,
        });
        let unvalidated =
            (config.schemas.source != crate::config::SchemaSourceKind::None).then(|| Target {
                topic: Arc::from(config.unvalidated_topic()),
                ack: None,
                unrouted: false,
                cluster: 0,
            });
        let overflow = (config.hot_keys.events_per_second > 0
            && config.hot_keys.overflow == crate::config::HotKeyOverflow::Topic)
            .then(|| Target {
                topic: Arc::from(config.overflow_topic()),
                ack: None,
                unrouted: false,
                cluster: 0,
            });
        Router {
            per_app,
            any_app,
            catch_all,
            unvalidated,
            overflow,
            dead_letter: Arc::from(config.dead_letter_topic()),
        }
    }

    /// The target of an event sent by `app`, or `None` when it is unrouted
    /// and the policy is to reject.
    pub fn route(&self, app: &str, event: &EventView<'_>) -> Option<&Target> {
        let (kind, name) = (event.kind, event.routing_name());
        self.per_app
            .get(app)
            .and_then(|t| t.get(kind, name))
            .or_else(|| self.any_app.get(kind, name))
            .or(self.catch_all.as_ref())
    }

    /// Where events accepted without a schema go (when schemas are on).
    pub fn unvalidated(&self) -> Option<&Target> {
        self.unvalidated.as_ref()
    }

    /// Where the events of users over their rate go, when not spread
    /// over their own topic (`hot_keys.overflow = "topic"`).
    pub fn overflow(&self) -> Option<&Target> {
        self.overflow.as_ref()
    }

    /// The dead-letter topic.
    pub fn dead_letter(&self) -> &Arc<str> {
        &self.dead_letter
    }

    /// Every topic the gateway may write to, for the start-up check.
    pub fn topics(&self) -> BTreeSet<String> {
        self.topics_of_cluster(None)
    }

    /// The topics written to one cluster (`None`: all clusters). The
    /// dead-letter topic is on the default cluster.
    pub fn topics_of_cluster(&self, cluster: Option<usize>) -> BTreeSet<String> {
        let mut t: BTreeSet<String> = self
            .per_app
            .values()
            .flat_map(Table::targets)
            .chain(self.any_app.targets())
            .chain(self.catch_all.iter())
            .chain(self.unvalidated.iter())
            .chain(self.overflow.iter())
            .filter(|t| cluster.is_none_or(|c| c == t.cluster))
            .map(|t| t.topic.to_string())
            .collect();
        if cluster.is_none_or(|c| c == 0) {
            t.insert(self.dead_letter.to_string());
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(extra: &str) -> Router {
        let c = Config::parse(&format!(
            r#"
            [[routing.routes]]
            event = "Order Completed"
            [[routing.routes]]
            event = "Order Completed"
            app = "shop"
            topic = "shop.orders"
            ack = "buffered"
            [[routing.routes]]
            event = "identify"
            topic = "people"
            {extra}
            "#
        ))
        .unwrap();
        Router::new(&c, &[])
    }

    fn view(raw: &str) -> EventView<'_> {
        EventView::parse(raw, None).unwrap()
    }

    #[test]
    fn routes_by_name_app_and_kind() {
        let r = router("");
        let order =
            view(r#"{"type":"track","event":"Order Completed","messageId":"m","anonymousId":"a"}"#);
        assert_eq!(
            &*r.route("other", &order).unwrap().topic,
            "tributary.order_completed"
        );
        let shop = r.route("shop", &order).unwrap();
        assert_eq!(
            (&*shop.topic, shop.ack),
            ("shop.orders", Some(AckMode::Buffered))
        );
        let ident = view(r#"{"type":"identify","messageId":"m","anonymousId":"a"}"#);
        assert_eq!(&*r.route("x", &ident).unwrap().topic, "people");
        let page = view(r#"{"type":"page","messageId":"m","anonymousId":"a"}"#);
        assert_eq!(&*r.route("x", &page).unwrap().topic, "tributary.page");
        // A track event *named* like a kind does not hijack that kind's route.
        let odd = view(r#"{"type":"track","event":"identify","messageId":"m","anonymousId":"a"}"#);
        assert!(r.route("x", &odd).unwrap().unrouted);
    }

    #[test]
    fn unrouted_goes_to_catch_all_or_is_refused() {
        let other = r#"{"type":"track","event":"Nope","messageId":"m","anonymousId":"a"}"#;
        let t = router("").route("x", &view(other)).cloned().unwrap();
        assert!(t.unrouted);
        assert_eq!(&*t.topic, "tributary.unrouted");
        let strict = router("[routing]\nunrouted = \"reject\"");
        assert!(strict.route("x", &view(other)).is_none());
    }

    #[test]
    fn slugs_are_valid_topic_names() {
        // The slug rules themselves are tested in the contract.
        assert!(crate::config::check_topic_name(&topic_slug(&"x".repeat(400))).is_ok());
    }
}
