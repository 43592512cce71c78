//! Writing what an event becomes: the normalised payload (the value of a
//! record that is not schema-encoded), the `tb-context` and `tb-extra`
//! header values of one that is. Raw fields are pasted as they stand, so
//! the output is byte for byte what serde_json's compact printer gives for
//! the same fields, without building a tree.

use super::{EventView, Stamps};
use crate::event::field;
use crate::scan::string_stop;
use crate::time::{self, Timestamp};
use std::borrow::Cow;

/// A JSON object being written, members in call order.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl<'o> Object<'o> {
    fn open(out: &'o mut Vec<u8>) -> Object<'o> {
        out.push(b'{');
        Object { out, first: true }
    }

    fn key(&mut self, key: &str) -> Result<(), serde_json::Error> {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        string(self.out, key)?;
        self.out.push(b':');
        Ok(())
    }

    fn string(&mut self, key: &str, value: &str) -> Result<(), serde_json::Error> {
        self.key(key)?;
        string(self.out, value)
    }

    fn raw(&mut self, key: &str, raw: &str) -> Result<(), serde_json::Error> {
        self.key(key)?;
        self.out.extend_from_slice(raw.as_bytes());
        Ok(())
    }

    fn time(&mut self, key: &str, t: Timestamp) -> Result<(), serde_json::Error> {
        self.key(key)?;
        self.out.push(b'"');
        time::write(t, self.out);
        self.out.push(b'"');
        Ok(())
    }

    fn opt_string(
        &mut self,
        key: &str,
        value: &Option<Cow<'_, str>>,
    ) -> Result<(), serde_json::Error> {
        match value {
            Some(v) => self.string(key, v),
            None => Ok(()),
        }
    }

    fn opt_raw(&mut self, key: &str, raw: Option<&str>) -> Result<(), serde_json::Error> {
        match raw {
            Some(r) => self.raw(key, r),
            None => Ok(()),
        }
    }

    fn close(self) {
        self.out.push(b'}');
    }
}

/// `s` as a JSON string. Most strings need no escape and are copied;
/// the rest are escaped by serde_json, so the bytes are its bytes.
fn string(out: &mut Vec<u8>, s: &str) -> Result<(), serde_json::Error> {
    if string_stop(s.as_bytes(), 0) == s.len() {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(out, s)
    }
}

impl<'a> EventView<'a> {
    /// The event's context (the batch's, with the event's own keys winning)
    /// as compact JSON, for the `tb-context` header of schema-encoded
    /// records. Borrowed from the request when it is already compact and
    /// needs no merge, as SDKs send it. `batch_context` must already be
    /// compact (the batch reader makes it so, once per request).
    pub fn context_json(
        &self,
        batch_context: Option<&'a str>,
    ) -> Result<Option<Cow<'a, str>>, serde_json::Error> {
        Ok(match (self.context, batch_context) {
            (Some(own), Some(shared)) => Some(Cow::Owned(merge_objects(shared, own)?)),
            (Some(own), None) if self.context_is_compact => Some(Cow::Borrowed(own)),
            (Some(own), None) => Some(compact(own)),
            (None, shared) => shared.map(Cow::Borrowed),
        })
    }

    /// Appends the top-level fields a schema-encoded record would
    /// otherwise lose — `groupId`, `previousId`, `integrations` and fields
    /// this contract does not name (such as `sessionId`) — to `out` as a
    /// compact JSON object, for the `tb-extra` header. Returns `false`
    /// (writing nothing) when there are none.
    pub fn write_extra_fields(&self, out: &mut Vec<u8>) -> Result<bool, serde_json::Error> {
        if self.group_id.is_none()
            && self.previous_id.is_none()
            && self.integrations.is_none()
            && self.extra.is_empty()
        {
            return Ok(false);
        }
        let mut map = Object::open(out);
        map.opt_string(field::GROUP_ID, &self.group_id)?;
        map.opt_string(field::PREVIOUS_ID, &self.previous_id)?;
        map.opt_raw(field::INTEGRATIONS, self.integrations)?;
        for (k, v) in self.extra.iter() {
            map.raw(k, v)?;
        }
        map.close();
        Ok(true)
    }

    /// Writes the normalised event JSON (the Kafka record value) to `out`.
    ///
    /// `batch_context` is used when the event has no context of its own;
    /// when both exist they are merged, the event's keys winning.
    pub fn write_payload(
        &self,
        out: &mut Vec<u8>,
        stamps: &Stamps,
        batch_context: Option<&str>,
    ) -> Result<(), serde_json::Error> {
        let merged;
        let context = match (self.context, batch_context) {
            (Some(own), Some(shared)) => {
                merged = merge_objects(shared, own)?;
                Some(merged.as_str())
            }
            (own, shared) => own.or(shared),
        };
        let mut map = Object::open(out);
        map.string(field::TYPE, self.kind.as_str())?;
        map.opt_string(field::EVENT, &self.event)?;
        map.opt_string(field::NAME, &self.name)?;
        map.string(field::MESSAGE_ID, &self.message_id)?;
        map.opt_string(field::USER_ID, &self.user_id)?;
        map.opt_string(field::ANONYMOUS_ID, &self.anonymous_id)?;
        map.opt_string(field::GROUP_ID, &self.group_id)?;
        map.opt_string(field::PREVIOUS_ID, &self.previous_id)?;
        map.time(field::TIMESTAMP, stamps.timestamp)?;
        if let Some(t) = stamps.original_timestamp {
            map.time(field::ORIGINAL_TIMESTAMP, t)?;
        }
        if let Some(t) = stamps.sent_at {
            map.time(field::SENT_AT, t)?;
        }
        map.time(field::RECEIVED_AT, stamps.received_at)?;
        map.opt_raw(field::PROPERTIES, self.properties)?;
        map.opt_raw(field::TRAITS, self.traits)?;
        map.opt_raw(field::CONTEXT, context)?;
        map.opt_raw(field::INTEGRATIONS, self.integrations)?;
        for (k, v) in self.extra.iter() {
            map.raw(k, v)?;
        }
        map.close();
        Ok(())
    }
}

/// `json` without the whitespace between its tokens. `json` must be valid
/// JSON (a read field is), so whitespace outside strings is insignificant
/// and the only state to track is being inside a string. Copying bytes
/// this way is what keeps the per-event cost of the `tb-context` header
/// low: parsing the context into a map and printing it again cost about a
/// tenth of the gateway's CPU.
pub fn compact(json: &str) -> Cow<'_, str> {
    let bytes = json.as_bytes();
    let space = |b: u8| matches!(b, b' ' | b'\n' | b'\r' | b'\t');
    // Whitespace inside strings (a user agent, say) must stay, so only
    // whitespace between tokens means copying; strings are skipped whole.
    let mut i = 0;
    let mut copied: Option<Vec<u8>> = None;
    let mut from = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'"' {
            let Some((end, _)) = crate::scan::string_end(bytes, i) else {
                break;
            };
            i = end + 1;
        } else if space(b) {
            let out = copied.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
            out.extend_from_slice(&bytes[from..i]);
            while bytes.get(i).copied().is_some_and(space) {
                i += 1;
            }
            from = i;
        } else {
            i += 1;
        }
    }
    let Some(mut out) = copied else {
        return Cow::Borrowed(json);
    };
    out.extend_from_slice(&bytes[from.min(bytes.len())..]);
    // Only ASCII whitespace was removed, so the bytes are still UTF-8.
    Cow::Owned(
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
    )
}

/// Shallow merge of two JSON objects, `top` winning, printed compact. Only
/// used when an event carries its own context beside the batch's, which
/// SDKs avoid.
fn merge_objects(base: &str, top: &str) -> Result<String, serde_json::Error> {
    let mut merged: serde_json::Map<String, serde_json::Value> = serde_json::from_str(base)?;
    let top: serde_json::Map<String, serde_json::Value> = serde_json::from_str(top)?;
    merged.extend(top);
    serde_json::to_string(&merged)
}
