//! Applying an app's rules to a raw JSON object (`properties`, `traits`,
//! the context, or a whole rejected event) in one pass over its text.
//!
//! The walk follows the path-rule tree alongside the text: a subtree no
//! rule reaches is copied as it stands unless detectors are on, in which
//! case every string in it is looked at. The result is compact JSON, or
//! `None` when nothing was changed (the caller keeps the original). The
//! original strings that were replaced are returned too, so a rejection
//! message quoting one can be scrubbed of it.

use super::patterns;
use super::policy::{AppPolicy, PathNode};
use crate::config::{PiiPattern, PrivacyAction};
use tributary_contract::scan::{Reader, Shape, Token};
use tributary_contract::view::compact;

/// Members of the top-level object to replace, remove or read.
#[derive(Default)]
pub struct Edit<'e> {
    /// `(key, Some(json))` replaces or adds the member; `(key, None)`
    /// removes it.
    pub set: &'e [(&'e str, Option<&'e str>)],
    /// Top-level members whose string values are wanted.
    pub capture: &'e [&'e str],
}

/// What a rewrite produced.
#[derive(Debug, Default)]
pub struct Rewritten {
    /// The new text; `None` when it is unchanged.
    pub text: Option<String>,
    /// The captured members' decoded strings, in `Edit::capture` order.
    pub captured: Vec<Option<String>>,
    /// Original strings replaced or removed by a rule or a detector.
    pub replaced: Vec<String>,
}

struct Walk<'p> {
    policy: &'p AppPolicy,
    kinds: &'p [PiiPattern],
    changed: bool,
    replaced: Vec<String>,
}

/// Whether the value just walked stays.
#[derive(PartialEq)]
enum Fate {
    Kept,
    Dropped,
}

/// Rewrites the object `text` under `policy`, starting at path-tree node
/// `node` (`None`: no path rule applies below, detectors only). `None` on
/// text that is not a JSON object; the reader checked it before, so this
/// does not happen for an accepted event.
pub fn rewrite(
    text: &str,
    node: Option<&PathNode>,
    policy: &AppPolicy,
    edit: &Edit<'_>,
) -> Option<Rewritten> {
    let mut w = Walk {
        policy,
        kinds: &policy.kinds,
        changed: false,
        replaced: Vec::new(),
    };
    let mut r = Reader::new(text);
    let mut out = Vec::with_capacity(text.len() + 32);
    let mut captured = vec![None; edit.capture.len()];
    let nodes: Vec<&PathNode> = node.into_iter().collect();
    let Token::Object = r.value()? else {
        return None;
    };
    w.object(&mut r, &nodes, &mut out, Some((edit, &mut captured)))?;
    if !r.at_end() {
        return None;
    }
    Some(Rewritten {
        text: w.changed.then(|| String::from_utf8(out).ok()).flatten(),
        captured,
        replaced: w.replaced,
    })
}

type Top<'x, 'e> = Option<(&'x Edit<'e>, &'x mut Vec<Option<String>>)>;

impl Walk<'_> {
    /// The members of an object whose `{` was read, written to `out`.
    fn object(
        &mut self,
        r: &mut Reader<'_>,
        nodes: &[&PathNode],
        out: &mut Vec<u8>,
        mut top: Top<'_, '_>,
    ) -> Option<()> {
        out.push(b'{');
        let mut first = true;
        let mut wrote = false;
        let mut set_done = vec![false; top.as_ref().map_or(0, |(e, _)| e.set.len())];
        while let Some(key) = r.next_key(&mut first)? {
            let name = key.decode()?;
            let mark = out.len();
            if wrote {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(key_text(&key));
            out.extend_from_slice(b"\":");
            if let Some((edit, captured)) = top.as_mut() {
                if let Some(i) = edit.capture.iter().position(|c| *c == name) {
                    let save = r.position();
                    if let Some(Token::Str(s)) = r.value() {
                        captured[i] = s.decode().map(|s| s.into_owned());
                    }
                    r.seek(save);
                }
                if let Some(i) = edit.set.iter().position(|(k, _)| *k == name) {
                    r.raw_value(0, &mut Shape::unlimited())?;
                    set_done[i] = true;
                    self.changed = true;
                    match edit.set[i].1 {
                        Some(v) => {
                            out.extend_from_slice(v.as_bytes());
                            wrote = true;
                        }
                        None => out.truncate(mark),
                    }
                    continue;
                }
            }
            let mut below = Vec::new();
            for n in nodes {
                n.members(&name, &mut below);
            }
            match self.value(r, &below, out)? {
                Fate::Kept => wrote = true,
                Fate::Dropped => out.truncate(mark),
            }
        }
        if let Some((edit, _)) = top {
            for ((k, v), done) in edit.set.iter().zip(set_done) {
                if let (Some(v), false) = (v, done) {
                    if wrote {
                        out.push(b',');
                    }
                    out.push(b'"');
                    out.extend_from_slice(k.as_bytes());
                    out.extend_from_slice(b"\":");
                    out.extend_from_slice(v.as_bytes());
                    wrote = true;
                    self.changed = true;
                }
            }
        }
        out.push(b'}');
        Some(())
    }

    /// One value at the reader, under the tree nodes `nodes` that select it.
    fn value(
        &mut self,
        r: &mut Reader<'_>,
        nodes: &[&PathNode],
        out: &mut Vec<u8>,
    ) -> Option<Fate> {
        if let Some(action) = nodes.iter().find_map(|n| n.action) {
            let raw = r.raw_value(0, &mut Shape::unlimited())?;
            self.changed = true;
            return Some(self.apply(action, raw, out));
        }
        if nodes.is_empty() && self.kinds.is_empty() {
            let raw = r.raw_value(0, &mut Shape::unlimited())?;
            if r.take_spaced() {
                out.extend_from_slice(compact(raw).as_bytes());
            } else {
                out.extend_from_slice(raw.as_bytes());
            }
            return Some(Fate::Kept);
        }
        r.skip_space();
        let start = r.position();
        match r.value()? {
            Token::Object => self.object(r, nodes, out, None)?,
            Token::Array => {
                out.push(b'[');
                let (mut first, mut wrote) = (true, false);
                let mut below = Vec::new();
                for n in nodes {
                    n.elements(&mut below);
                }
                while r.next_element(&mut first)? {
                    let mark = out.len();
                    if wrote {
                        out.push(b',');
                    }
                    match self.value(r, &below, out)? {
                        Fate::Kept => wrote = true,
                        Fate::Dropped => out.truncate(mark),
                    }
                }
                out.push(b']');
            }
            Token::Str(s) => {
                let text = s.decode()?;
                let found = patterns::find(&text, self.kinds);
                if found.is_empty() {
                    out.extend_from_slice(r.since(start).as_bytes());
                } else {
                    self.changed = true;
                    return Some(self.detected(&text, &found, out));
                }
            }
            Token::Num(_) | Token::Bool(_) | Token::Null => {
                out.extend_from_slice(r.since(start).as_bytes());
            }
        }
        Some(Fate::Kept)
    }

    /// A rule's action on the whole value `raw`.
    fn apply(&mut self, action: PrivacyAction, raw: &str, out: &mut Vec<u8>) -> Fate {
        let plain = match serde_json::from_str::<String>(raw) {
            Ok(s) => s,
            Err(_) => compact(raw).into_owned(),
        };
        if action == PrivacyAction::Drop {
            self.replaced.push(plain);
            return Fate::Dropped;
        }
        let disguised = self.policy.disguise(action, &plain);
        write_string(out, &disguised);
        self.replaced.push(plain);
        Fate::Kept
    }

    /// A string in which detectors found `found`.
    fn detected(&mut self, text: &str, found: &[patterns::Found], out: &mut Vec<u8>) -> Fate {
        let mut result = String::with_capacity(text.len());
        let mut from = 0;
        for &(start, end, kind) in found {
            let action = self.policy.pattern_action(kind);
            let hit = &text[start..end];
            self.replaced.push(hit.to_owned());
            if action == PrivacyAction::Drop {
                return Fate::Dropped;
            }
            result.push_str(&text[from..start]);
            result.push_str(&self.policy.disguise(action, hit));
            from = end;
        }
        result.push_str(&text[from..]);
        write_string(out, &result);
        Fate::Kept
    }
}

/// A key's characters as written (escapes kept, so the output key is the
/// input key).
fn key_text<'a>(key: &tributary_contract::scan::JsonStr<'a>) -> &'a [u8] {
    key.as_written().as_bytes()
}

fn write_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests;
