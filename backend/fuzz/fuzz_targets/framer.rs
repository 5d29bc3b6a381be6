//! The line framer under arbitrary bytes and arbitrary chunkings.
//!
//! Invariants: no panic; the buffered partial line never exceeds the limit (+1 for a CR waiting
//! for its LF); the same stream gives the same lines however it is cut; and what reaches other
//! clients (the sanitized line) never contains LF, CR, NUL or ESC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use muxscope::chat::framer::{sanitize, split_lines};
use std::ops::ControlFlow;

const MAX: usize = 64;

fn run(chunks: &[&[u8]]) -> (Vec<Vec<u8>>, bool) {
    let mut partial = Vec::new();
    let mut lines = Vec::new();
    for c in chunks {
        let r = split_lines(&mut partial, c, MAX, |l| {
            lines.push(l.to_vec());
            ControlFlow::Continue(())
        });
        assert!(partial.len() <= MAX + 1, "buffered {} bytes", partial.len());
        if r.is_err() {
            return (lines, true);
        }
    }
    (lines, false)
}

fuzz_target!(|data: &[u8]| {
    // First byte: how many cuts; the next bytes: where.
    let Some((&ncuts, rest)) = data.split_first() else { return };
    let ncuts = (ncuts % 16) as usize;
    if rest.len() < ncuts {
        return;
    }
    let (cut_bytes, stream) = rest.split_at(ncuts);
    let mut cuts: Vec<usize> = cut_bytes.iter().map(|&b| b as usize % (stream.len() + 1)).collect();
    cuts.sort_unstable();
    let mut chunks = Vec::new();
    let mut prev = 0;
    for c in cuts {
        chunks.push(&stream[prev..c]);
        prev = c;
    }
    chunks.push(&stream[prev..]);
    let (split, split_err) = run(&chunks);
    let (whole, whole_err) = run(&[stream]);
    assert_eq!(split, whole, "a different chunking gave different lines");
    assert_eq!(split_err, whole_err);
    for l in &split {
        let s = sanitize(l);
        assert!(!s.contains(['\n', '\r', '\0', '\u{1b}']), "{s:?}");
    }
});
