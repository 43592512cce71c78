//! Body decoding: enforce the compressed size cap while reading, pick the
//! decoder from `Content-Encoding`, and stop inflating the moment the output
//! passes its cap, so a gzip bomb costs at most the cap in memory.

use crate::error::RequestError;
use bytes::Bytes;
use flate2::read::GzDecoder;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use http_body_util::BodyExt;
use std::io::Read;
use tributary_contract::ErrorCode;

/// How the body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// Plain bytes (`identity` or no header).
    Identity,
    /// `gzip`.
    Gzip,
}

/// Reads `Content-Encoding`. Unknown encodings are refused (415) rather
/// than guessed at.
pub fn content_encoding(headers: &HeaderMap) -> Result<ContentEncoding, RequestError> {
    let Some(v) = headers.get(CONTENT_ENCODING) else {
        return Ok(ContentEncoding::Identity);
    };
    let v = v.to_str().unwrap_or("").trim();
    if v.eq_ignore_ascii_case("gzip") || v.eq_ignore_ascii_case("x-gzip") {
        Ok(ContentEncoding::Gzip)
    } else if v.is_empty() || v.eq_ignore_ascii_case("identity") {
        Ok(ContentEncoding::Identity)
    } else {
        Err(RequestError::new(
            ErrorCode::UnsupportedEncoding,
            format!("Content-Encoding {v:?} is not supported; use gzip or identity"),
        ))
    }
}

/// How much of an over-size body is read and thrown away before answering
/// 413, as a multiple of the cap. Answering while the client is still
/// sending makes many clients see a reset instead of the 413; draining a
/// bounded amount lets them read it. Bodies declared larger than this are
/// refused at once.
const DRAIN_FACTOR: usize = 8;

/// Reads the whole body, refusing it once it passes `max` bytes. Memory use
/// is bounded by `max`: the excess is read and discarded (up to
/// `DRAIN_FACTOR` times `max`) so the client can read the 413.
pub async fn read_body<B>(headers: &HeaderMap, body: B, max: usize) -> Result<Bytes, RequestError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let too_large = || {
        RequestError::new(
            ErrorCode::PayloadTooLarge,
            format!("request body is larger than {max} bytes"),
        )
    };
    let drain_cap = max.saturating_mul(DRAIN_FACTOR);
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > drain_cap as u64) {
        return Err(too_large());
    }
    let mut body = std::pin::pin!(body);
    let mut kept = bytes::BytesMut::with_capacity(declared.map_or(8192, |n| n as usize).min(max));
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            RequestError::new(
                ErrorCode::InvalidBatch,
                format!("could not read the request body: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen = seen.saturating_add(data.len());
        if seen <= max {
            kept.extend_from_slice(&data);
        } else if seen > drain_cap {
            break;
        }
    }
    if seen > max {
        return Err(too_large());
    }
    Ok(kept.freeze())
}

/// Inflation caps: an absolute size and a ratio to the compressed size.
#[derive(Debug, Clone, Copy)]
pub struct InflateLimits {
    /// Most bytes after inflation.
    pub max_bytes: usize,
    /// Most inflated bytes per compressed byte.
    pub max_ratio: usize,
}

/// Decodes the body; gzip output is capped while inflating.
pub fn decode(
    body: Bytes,
    encoding: ContentEncoding,
    limits: InflateLimits,
) -> Result<Bytes, RequestError> {
    match encoding {
        ContentEncoding::Identity => Ok(body),
        ContentEncoding::Gzip => inflate(&body, limits).map(Bytes::from),
    }
}

/// Inflates a gzip stream, failing as soon as the output would exceed the
/// absolute cap or the ratio cap (whichever is lower): a bomb costs at most
/// that much memory and CPU, never its claimed size.
pub fn inflate(compressed: &[u8], limits: InflateLimits) -> Result<Vec<u8>, RequestError> {
    let by_ratio = compressed.len().saturating_mul(limits.max_ratio).max(1024);
    let max = limits.max_bytes.min(by_ratio);
    // Typical telemetry compresses 5-10x; start there and grow as needed.
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(6).min(max));
    // Read one byte past the cap so "exactly max" and "more" differ.
    let mut reader = GzDecoder::new(compressed).take(max as u64 + 1);
    match reader.read_to_end(&mut out) {
        Ok(_) if out.len() > max && max < limits.max_bytes => Err(RequestError::new(
            ErrorCode::DecompressedTooLarge,
            format!(
                "body inflates more than {}x its compressed size (limits.max_compression_ratio)",
                limits.max_ratio
            ),
        )),
        Ok(_) if out.len() > max => Err(RequestError::new(
            ErrorCode::DecompressedTooLarge,
            format!("body inflates to more than {max} bytes"),
        )),
        Ok(_) => Ok(out),
        Err(e) => Err(RequestError::new(
            ErrorCode::BadGzip,
            format!("body is not valid gzip: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn caps(max_bytes: usize, max_ratio: usize) -> InflateLimits {
        InflateLimits {
            max_bytes,
            max_ratio,
        }
    }

    #[test]
    fn inflates_within_the_cap() {
        assert_eq!(inflate(&gzip(b"hello"), caps(5, 100)).unwrap(), b"hello");
    }

    #[test]
    fn stops_a_bomb_at_the_cap() {
        let bomb = gzip(&vec![b'['; 10 << 20]);
        assert!(bomb.len() < 20_000);
        let err = inflate(&bomb, caps(1 << 20, 100_000)).unwrap_err();
        assert_eq!(err.code, ErrorCode::DecompressedTooLarge);
        assert!(
            err.message.contains("more than 1048576 bytes"),
            "{}",
            err.message
        );
    }

    #[test]
    fn stops_a_bomb_at_the_ratio() {
        let bomb = gzip(&vec![b'['; 10 << 20]);
        let err = inflate(&bomb, caps(100 << 20, 100)).unwrap_err();
        assert!(err.message.contains("100x"), "{}", err.message);
        let normal =
            gzip(&serde_json::to_vec(&serde_json::json!({"batch": [{"a": "b"}]})).unwrap());
        assert!(inflate(&normal, caps(100 << 20, 100)).is_ok());
    }

    #[test]
    fn truncated_and_garbage_gzip_are_bad_gzip() {
        let g = gzip(b"{\"batch\":[]}");
        assert_eq!(
            inflate(&g[..g.len() - 5], caps(100, 100)).unwrap_err().code,
            ErrorCode::BadGzip
        );
        assert_eq!(
            inflate(b"not gzip", caps(100, 100)).unwrap_err().code,
            ErrorCode::BadGzip
        );
    }

    #[tokio::test]
    async fn bodies_over_the_cap_are_refused_after_a_bounded_drain() {
        use http_body_util::Full;
        let body = |n: usize| Full::new(Bytes::from(vec![b'x'; n]));
        let h = HeaderMap::new();
        assert_eq!(read_body(&h, body(100), 100).await.unwrap().len(), 100);
        assert_eq!(
            read_body(&h, body(101), 100).await.unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
        let mut declared = HeaderMap::new();
        declared.insert(CONTENT_LENGTH, "100000".parse().unwrap());
        assert_eq!(
            read_body(&declared, body(10), 100).await.unwrap_err().code,
            ErrorCode::PayloadTooLarge
        );
    }

    #[test]
    fn unknown_encoding_is_415() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_ENCODING, "br".parse().unwrap());
        let err = content_encoding(&h).unwrap_err();
        assert_eq!(err.code.http_status(), 415);
        h.insert(CONTENT_ENCODING, "GZIP".parse().unwrap());
        assert_eq!(content_encoding(&h).unwrap(), ContentEncoding::Gzip);
    }
}
