//! The Confluent wire format of schema-encoded record values, and the one
//! function every consumer uses to read a Tributary record.
//!
//! A schema-encoded value is `0x00` (magic byte), the schema id as 4 bytes
//! big-endian, then for protobuf the message-index array (which message of
//! the `.proto` file: a zig-zag varint count followed by zig-zag varint
//! indexes, with `[0]` — the first message — shortened to a single `0x00`),
//! then the encoded payload. This is exactly what Confluent's serializers
//! write, so their deserializers read Tributary's records unchanged.
//!
//! Byte-level examples are in `docs/contract.md` ("Kafka records").

use crate::envelope::{Encoding, Envelope, EnvelopeError, EnvelopeRef};

/// The first byte of every framed value.
pub const MAGIC: u8 = 0;

/// Why a value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

impl From<EnvelopeError> for WireError {
    fn from(e: EnvelopeError) -> WireError {
        WireError(e.0)
    }
}

/// Appends the framing of a JSON Schema value to `out`; the JSON follows.
pub fn frame_json(schema_id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Appends the framing of a protobuf value to `out`: magic, id and the
/// message-index path of the message inside its file; the message follows.
pub fn frame_protobuf(schema_id: u32, message_indexes: &[i32], out: &mut Vec<u8>) {
    frame_json(schema_id, out);
    if message_indexes == [0] {
        out.push(0);
        return;
    }
    put_zigzag(message_indexes.len() as i64, out);
    for &i in message_indexes {
        put_zigzag(i64::from(i), out);
    }
}

/// A framed value, split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framed<'a> {
    /// Registry id of the writer's schema.
    pub schema_id: u32,
    /// Message-index path (protobuf only; empty for JSON).
    pub message_indexes: Vec<i32>,
    /// The encoded payload after the framing.
    pub payload: &'a [u8],
}

/// Splits a framed value. `protobuf` says whether a message-index array
/// follows the id (the framing itself does not say).
pub fn unframe(value: &[u8], protobuf: bool) -> Result<Framed<'_>, WireError> {
    let [magic, a, b, c, d, rest @ ..] = value else {
        return Err(WireError(format!(
            "value is {} bytes, shorter than the 5-byte framing",
            value.len()
        )));
    };
    if *magic != MAGIC {
        return Err(WireError(format!(
            "magic byte is {magic:#04x}, expected 0x00"
        )));
    }
    let schema_id = u32::from_be_bytes([*a, *b, *c, *d]);
    if !protobuf {
        return Ok(Framed {
            schema_id,
            message_indexes: Vec::new(),
            payload: rest,
        });
    }
    let mut pos = 0;
    let count = get_zigzag(rest, &mut pos)?;
    let message_indexes = if count == 0 {
        vec![0]
    } else {
        if !(1..=64).contains(&count) {
            return Err(WireError(format!(
                "message-index count {count} is out of range"
            )));
        }
        (0..count)
            .map(|_| {
                let i = get_zigzag(rest, &mut pos)?;
                i32::try_from(i).map_err(|_| WireError(format!("message index {i} out of range")))
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(Framed {
        schema_id,
        message_indexes,
        payload: &rest[pos..],
    })
}

fn put_zigzag(v: i64, out: &mut Vec<u8>) {
    let mut n = ((v << 1) ^ (v >> 63)) as u64;
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn get_zigzag(buf: &[u8], pos: &mut usize) -> Result<i64, WireError> {
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *buf
            .get(*pos)
            .ok_or_else(|| WireError("message-index array is truncated".into()))?;
        *pos += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(((n >> 1) as i64) ^ -((n & 1) as i64));
        }
    }
    Err(WireError("message-index varint is too long".into()))
}

/// What a record's value holds, per its `tb-encoding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// The whole normalised event as JSON text (unvalidated events).
    Event(&'a [u8]),
    /// A JSON Schema payload: the schema id and the JSON text.
    Json {
        /// Registry id of the schema.
        schema_id: u32,
        /// The payload JSON.
        json: &'a [u8],
    },
    /// A protobuf payload: the schema id, message path and message bytes.
    Protobuf {
        /// Registry id of the schema.
        schema_id: u32,
        /// Which message of the schema's file.
        message_indexes: Vec<i32>,
        /// The encoded message.
        message: &'a [u8],
    },
}

/// One Kafka record read back: envelope from the headers, body from the
/// value. The load test's verifier and the tests read records through this;
/// the pipeline reads the borrowed [`RecordRef`].
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// The envelope headers.
    pub envelope: Envelope,
    /// The value, unframed.
    pub body: Body<'a>,
}

/// A [`Record`] whose envelope borrows from the headers (see
/// [`EnvelopeRef`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordRef<'h, 'v> {
    /// The envelope headers.
    pub envelope: EnvelopeRef<'h>,
    /// The value, unframed.
    pub body: Body<'v>,
}

/// Reads a record from its headers and value. Checks that the framing
/// agrees with the `tb-schema` header.
pub fn decode_record<'h, 'v, I>(headers: I, value: &'v [u8]) -> Result<Record<'v>, WireError>
where
    I: IntoIterator<Item = (&'h str, &'h [u8])>,
{
    let r = decode_record_ref(headers, value)?;
    Ok(Record {
        envelope: r.envelope.into_owned(),
        body: r.body,
    })
}

/// [`decode_record`] without copying the envelope's text.
pub fn decode_record_ref<'h, 'v, I>(
    headers: I,
    value: &'v [u8],
) -> Result<RecordRef<'h, 'v>, WireError>
where
    I: IntoIterator<Item = (&'h str, &'h [u8])>,
{
    let envelope = EnvelopeRef::from_headers(headers)?;
    let body = match envelope.encoding {
        Encoding::Json => Body::Event(value),
        Encoding::ConfluentJson => {
            let f = unframe(value, false)?;
            Body::Json {
                schema_id: f.schema_id,
                json: f.payload,
            }
        }
        Encoding::ConfluentProtobuf => {
            let f = unframe(value, true)?;
            Body::Protobuf {
                schema_id: f.schema_id,
                message_indexes: f.message_indexes,
                message: f.payload,
            }
        }
    };
    let framed_id = match &body {
        Body::Event(_) => None,
        Body::Json { schema_id, .. } | Body::Protobuf { schema_id, .. } => Some(*schema_id),
    };
    if framed_id != envelope.schema_id {
        return Err(WireError(format!(
            "header tb-schema says {:?} but the value is framed with {framed_id:?}",
            envelope.schema_id
        )));
    }
    Ok(RecordRef { envelope, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_framing_is_magic_then_big_endian_id() {
        let mut v = Vec::new();
        frame_json(0x0102_0304, &mut v);
        v.extend_from_slice(b"{}");
        assert_eq!(v, [0, 1, 2, 3, 4, b'{', b'}']);
        let f = unframe(&v, false).unwrap();
        assert_eq!((f.schema_id, f.payload), (0x0102_0304, &b"{}"[..]));
    }

    #[test]
    fn protobuf_first_message_is_one_zero_byte() {
        let mut v = Vec::new();
        frame_protobuf(42, &[0], &mut v);
        v.push(0x08);
        assert_eq!(v, [0, 0, 0, 0, 42, 0, 0x08]);
        let f = unframe(&v, true).unwrap();
        assert_eq!(f.message_indexes, [0]);
        assert_eq!(f.payload, [0x08]);
    }

    #[test]
    fn protobuf_nested_message_path_round_trips() {
        // Confluent's own example: indexes [1, 0] encode as 04 02 00.
        let mut v = Vec::new();
        frame_protobuf(7, &[1, 0], &mut v);
        assert_eq!(&v[5..], [4, 2, 0]);
        for path in [vec![2], vec![1, 0], vec![0, 3, 200]] {
            let mut v = Vec::new();
            frame_protobuf(7, &path, &mut v);
            v.extend_from_slice(b"xy");
            let f = unframe(&v, true).unwrap();
            assert_eq!(f.message_indexes, path);
            assert_eq!(f.payload, b"xy");
        }
    }

    #[test]
    fn bad_values_are_errors_not_panics() {
        for (v, pb) in [
            (&b""[..], false),
            (&[0, 0, 0][..], false),
            (&[1, 0, 0, 0, 1][..], false),
            (&[0, 0, 0, 0, 1][..], true),
            (&[0, 0, 0, 0, 1, 0x80][..], true),
            (&[0, 0, 0, 0, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f][..], true),
        ] {
            assert!(unframe(v, pb).is_err(), "{v:?}");
        }
    }
}
