//! One event's checks before anything is routed or written: the size cap,
//! then what reading it found (shape caps, form) and the field rules, and
//! the server's time stamps. Writing comes later and only when it is
//! needed (a schema-encoded record never carries the normalised event, so
//! it is never written for one).

use super::batch::RawBatch;
use super::stamps;
use crate::config::LimitsConfig;
use tributary_contract::ErrorCode;
use tributary_contract::time::Timestamp;
use tributary_contract::view::{EventView, ScannedEvent, Stamps, ViewError};

/// Checks the event `scan` and stamps it.
pub fn check<'a>(
    scan: &'a ScannedEvent<'_>,
    batch: &RawBatch<'_>,
    limits: &LimitsConfig,
    received_at: Timestamp,
) -> Result<(EventView<'a>, Stamps), ViewError> {
    if scan.text.len() > limits.max_event_bytes {
        return Err(ViewError {
            code: ErrorCode::EventTooLarge,
            message: format!(
                "event is {} bytes; the limit is {}",
                scan.text.len(),
                limits.max_event_bytes
            ),
        });
    }
    let view = EventView::read(scan, batch.implied)?;
    let stamps = stamps::stamps(&view, batch.sent_at, received_at);
    Ok((view, stamps))
}

/// Appends the normalised event (the value of a record that is not
/// schema-encoded) to `out`, its context merged over `batch_context`.
pub fn write_normalised(
    view: &EventView<'_>,
    stamps: &Stamps,
    batch_context: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<(), ViewError> {
    view.write_payload(out, stamps, batch_context)
        .map_err(|e| ViewError {
            code: ErrorCode::InvalidEvent,
            message: format!("cannot normalise event: {e}"),
        })
}
