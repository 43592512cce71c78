//! One event's checks before anything is routed or written: size cap,
//! shape caps, field checks, and the server's time stamps. Writing comes
//! later and only when it is needed (a schema-encoded record never carries
//! the normalised event, so it is never written for one).

use super::batch::RawBatch;
use super::{enrich, shape};
use crate::config::LimitsConfig;
use tributary_contract::ErrorCode;
use tributary_contract::time::Timestamp;
use tributary_contract::view::{EventView, Stamps, ViewError};

/// Checks the event at `raw` and stamps it.
pub fn check<'a>(
    raw: &'a str,
    batch: &RawBatch<'a>,
    limits: &LimitsConfig,
    received_at: Timestamp,
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
    Ok((view, stamps))
}

/// Appends the normalised event (the value of a record that is not
/// schema-encoded) to `out`.
pub fn write_normalised(
    view: &EventView<'_>,
    stamps: &Stamps,
    batch: &RawBatch<'_>,
    out: &mut Vec<u8>,
) -> Result<(), ViewError> {
    view.write_payload(out, stamps, batch.context)
        .map_err(|e| ViewError {
            code: ErrorCode::InvalidEvent,
            message: format!("cannot normalise event: {e}"),
        })
}
