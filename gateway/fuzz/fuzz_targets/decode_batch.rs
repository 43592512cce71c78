//! Fuzz target: the gateway's decode path (gzip, batch shape, per-event
//! checks, enrichment, payload writing) must not panic on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = tributary_gateway::ingest::fuzzing::decode_batch(data);
});
