//! The fuzz target's function over its seed corpus and over random and
//! mutated inputs, in the normal test run: the decode path never panics,
//! and the well-formed seeds are accepted.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use proptest::prelude::*;
use tributary_gateway::ingest::fuzzing::decode_batch;

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../gateway/fuzz/corpus/decode_batch");
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn seed_corpus_decodes_as_expected() {
    let seeds = corpus();
    assert!(seeds.len() >= 8);
    for (name, data) in &seeds {
        let accepted = decode_batch(data);
        match name.as_str() {
            "batch_plain" | "batch_gzip" => assert_eq!(accepted, 3, "{name}"),
            "single_track" | "escapes" | "numbers" => assert_eq!(accepted, 1, "{name}"),
            "duplicates" | "deep" | "truncated_gzip" => assert_eq!(accepted, 0, "{name}"),
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_batch(&data);
    }

    #[test]
    fn mutated_seeds_never_panic(seed in 0usize..8, flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8), cut in any::<prop::sample::Index>()) {
        let seeds = corpus();
        let mut data = seeds[seed % seeds.len()].1.clone();
        for (i, b) in flips {
            let at = i.index(data.len());
            data[at] ^= b;
        }
        let keep = cut.index(data.len() + 1);
        data.truncate(keep.max(1));
        decode_batch(&data);
    }
}
