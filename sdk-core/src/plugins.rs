//! Before-send plugins: app code that sees each event as it is recorded
//! and may enrich it, change it or drop it.
//!
//! The core holds the chain; each platform adapts its own functions to
//! [`BeforeSend`] (JavaScript functions, Kotlin lambdas, Swift closures).
//! A plugin receives the event's JSON object text — the whole event:
//! `type`, `event`/`name`, `messageId`, `timestamp`, ids, `properties` or
//! `traits` — and returns the text to keep, or `None` to drop it (counted
//! as `dropped_by_plugin`). Text that is not one JSON object is refused
//! and the event kept as it was: a broken plugin must not lose data.

use crate::json::JsonObject;

/// One before-send hook.
pub trait BeforeSend {
    /// The event to keep (changed or not), or `None` to drop it.
    fn process(&mut self, event: &str) -> Option<String>;
}

impl<F: FnMut(&str) -> Option<String>> BeforeSend for F {
    fn process(&mut self, event: &str) -> Option<String> {
        self(event)
    }
}

/// What the chain made of an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Keep these bytes (the original, or a plugin's rewrite).
    Keep(Vec<u8>),
    /// A plugin dropped it.
    Dropped,
}

/// The plugins in the order they were added.
#[derive(Default)]
pub struct Chain {
    plugins: Vec<Box<dyn BeforeSend + Send>>,
}

impl Chain {
    /// Adds a plugin at the end of the chain.
    pub fn add(&mut self, p: Box<dyn BeforeSend + Send>) {
        self.plugins.push(p);
    }

    /// Whether there are no plugins (the engine then skips the chain).
    pub fn is_empty(&self) -> bool {
        self.plugins.is_empty()
    }

    /// Runs `event` through every plugin in turn.
    pub fn run(&mut self, event: Vec<u8>) -> Outcome {
        let mut current = event;
        for p in &mut self.plugins {
            let Ok(text) = std::str::from_utf8(&current) else {
                break;
            };
            match p.process(text) {
                None => return Outcome::Dropped,
                Some(next) => {
                    if JsonObject::parse(&next).is_ok() {
                        current = next.into_bytes();
                    }
                }
            }
        }
        Outcome::Keep(current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugins_run_in_order_drop_and_cannot_break_an_event() {
        let mut c = Chain::default();
        c.add(Box::new(|e: &str| Some(e.replace("\"a\":1", "\"a\":2"))));
        c.add(Box::new(|_: &str| Some("not json".to_owned())));
        c.add(Box::new(|e: &str| {
            (!e.contains("drop-me")).then(|| e.to_owned())
        }));
        assert_eq!(
            c.run(br#"{"a":1}"#.to_vec()),
            Outcome::Keep(br#"{"a":2}"#.to_vec())
        );
        assert_eq!(c.run(br#"{"x":"drop-me"}"#.to_vec()), Outcome::Dropped);
    }
}
