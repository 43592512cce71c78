//! One event from raw JSON to normalised payload: size cap, shape caps,
//! field checks, enrichment, payload writing. The request handler and the
//! fuzz target both call [`prepare`], so the fuzzer exercises exactly the
//! code that serves traffic.

use super::batch::RawBatch;
use super::{enrich, shape};
use crate::config::LimitsConfig;
use tributary_contract::ErrorCode;
use tributary_contract::time::Timestamp;
use tributary_contract::view::{EventView, Stamps, ViewError};

/// Checks the event at `raw`, stamps it, and writes its normalised payload
/// (the Kafka record value) into `payload`, which is cleared first.
pub fn prepare<'a>(
    raw: &'a str,
    batch: &RawBatch<'a>,
    limits: &LimitsConfig,
    received_at: Timestamp,
    payload: &mut Vec<u8>,
) -> Result<(EventView<'a>, Stamps), ViewError> {
    if raw.len() > limits.max_event_bytes {
        return Err(ViewError {
            code: ErrorCode::EventTooLarge,
            message: format!(
                "event is {} bytes; the limit is {}",
                raw.len(),
                limits.max_event_bytes
            ),
        });
    }
    shape::check(raw, limits.max_nesting_depth, limits.max_string_bytes)?;
    let view = EventView::parse(raw, batch.implied)?;
    let stamps = enrich::stamps(&view, batch.sent_at, received_at);
    payload.clear();
    view.write_payload(payload, &stamps, batch.context)
        .map_err(|e| ViewError {
            code: ErrorCode::InvalidEvent,
            message: format!("cannot normalise event: {e}"),
        })?;
    Ok((view, stamps))
}
