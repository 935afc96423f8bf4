//! Throughput of the masker: `cargo run --release --example mask_bench [--once] [CASE...]`.
//!
//! Prints MB/s for log lines with nothing to mask (`clean`, the prefilter's case), guard's own
//! source code (`code`, what `bench/pty.sh` relays: clean too, but full of keywords, digits
//! and punctuation) and text dense with values (`dense`: every line has an e-mail, a card, an
//! SSN and a token), in one call and as a stream of 8 KiB chunks, and the time to mask a
//! 200,000-row result cell by cell (`rows`). Without a case it runs them all. Each figure is
//! the best of three runs (other work on the machine only ever slows a run down); `--once`
//! runs each once, for instruction counts under `perf stat` or callgrind. Figures only: the
//! tests assert behaviour, never timings.

// `cargo test --all-targets` builds examples as tests: the masker's own tests already run
// with the binary's, so this one compiles to nothing then.
#![cfg(not(test))]

#[allow(dead_code, unused_imports)]
#[path = "../src/mask/mod.rs"]
mod mask;

use std::path::{Path, PathBuf};
use std::time::Instant;

use mask::{MaskConfig, MaskCounts, Masker};

const WORDS: [&str; 24] = [
    "the", "order", "shipped", "customer", "update", "row", "status", "ready", "queue", "after",
    "retry", "cache", "hit", "miss", "service", "latency", "ms", "window", "batch", "request",
    "handler", "started", "finished", "ok",
];

/// Log-like lines with small numbers and no value any rule looks for.
fn clean_text(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 200);
    let mut i = 0usize;
    while out.len() < bytes {
        let line = format!(
            "2026-11-27 06:15:{:02} INFO {} {} {} {} id={} took {}ms\n",
            i % 60,
            WORDS[i % 24],
            WORDS[(i * 7) % 24],
            WORDS[(i * 11) % 24],
            WORDS[(i * 13) % 24],
            i % 100_000,
            i % 900
        );
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    out
}

/// guard's own source files (or those under `$MASK_BENCH_SRC`, to compare two versions of the
/// masker on the same text), repeated to `bytes`: identifiers, digits and punctuation, and
/// keywords (`token`, `secret`, `://`) on many lines, with next to nothing to mask.
fn code_text(bytes: usize) -> Vec<u8> {
    let src = std::env::var_os("MASK_BENCH_SRC").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        PathBuf::from,
    );
    let mut files = Vec::new();
    collect_rs(&src, &mut files);
    files.sort();
    let block: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).expect("read a source file"))
        .collect();
    let mut out = Vec::with_capacity(bytes + block.len());
    while out.len() < bytes {
        out.extend_from_slice(&block);
    }
    out
}

fn collect_rs(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect_rs(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// JSON lines where every line holds four values to mask.
fn dense_text(bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes + 300);
    let mut i = 0usize;
    while out.len() < bytes {
        let line = format!(
            "{{\"id\":{i},\"email\":\"user{i}@example.com\",\"card\":\"4111 1111 1111 1111\",\
             \"ssn\":\"123-45-{:04}\",\"key\":\"ghp_{:036}\",\"note\":\"{}\"}}\n",
            1 + i % 9999,
            i,
            WORDS[i % 24]
        );
        out.extend_from_slice(line.as_bytes());
        i += 1;
    }
    out
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / 1e6 / secs
}

/// The fastest of `runs` runs of `f`, and what it returned.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = (f64::MAX, None);
    for _ in 0..runs {
        let start = Instant::now();
        let out = f();
        let secs = start.elapsed().as_secs_f64();
        if secs < best.0 {
            best = (secs, Some(out));
        }
    }
    (best.0, best.1.expect("at least one run"))
}

// Not inlined, so that a profile (callgrind, perf) shows each measured part apart from building
// its input.
#[inline(never)]
fn one_call(masker: &Masker, text: &[u8]) -> MaskCounts {
    let masked = masker.mask_bytes(text);
    std::hint::black_box(&masked.text);
    masked.counts
}

#[inline(never)]
fn streamed(masker: &Masker, text: &[u8]) -> MaskCounts {
    let mut stream = masker.stream();
    let mut out = 0usize;
    for chunk in text.chunks(8192) {
        out += stream.push(chunk).len();
    }
    out += stream.finish().len();
    std::hint::black_box(out);
    stream.counts().clone()
}

/// A 200,000-row result of (id, name, email, card_number, note).
fn rows() -> Vec<[String; 5]> {
    (0..200_000)
        .map(|i| {
            [
                i.to_string(),
                format!("Customer {i}"),
                format!("user{i}@example.com"),
                "4111111111111111".to_string(),
                if i % 10 == 0 {
                    format!("call back at user{i}@example.org")
                } else {
                    format!("{} {}", WORDS[i % 24], WORDS[(i * 5) % 24])
                },
            ]
        })
        .collect()
}

/// Masks a result cell by cell as the Postgres gateway would: each column's rules resolved
/// once, the registered secrets looked up once a row, detectors on the cells of the columns
/// no rule covers.
#[inline(never)]
fn result_set(masker: &Masker, rows: &[[String; 5]]) -> MaskCounts {
    let columns = ["id", "name", "email", "card_number", "note"].map(|c| masker.column(c));
    let mut counts = MaskCounts::default();
    for row in rows {
        let masker = masker.snapshot();
        for (column, cell) in columns.iter().zip(row) {
            let masked = masker.mask_value(column, cell.as_bytes());
            counts.merge(&masked.counts);
            std::hint::black_box(&masked.text);
        }
    }
    counts
}

fn text_case(masker: &Masker, runs: usize, name: &str, text: &[u8]) {
    let (secs, counts) = best_of(runs, || one_call(masker, text));
    println!(
        "  {name:<10} one call : {:>7.0} MB/s  ({} MB, {} values masked)",
        mb_per_s(text.len(), secs),
        text.len() >> 20,
        counts.count
    );
    let (secs, _) = best_of(runs, || streamed(masker, text));
    println!(
        "  {name:<10} 8K stream: {:>7.0} MB/s",
        mb_per_s(text.len(), secs)
    );
}

fn rows_case(masker: &Masker, runs: usize) {
    let rows = rows();
    let bytes = rows.iter().flatten().map(String::len).sum();
    let (secs, counts) = best_of(runs, || result_set(masker, &rows));
    println!(
        "  200,000 rows x 5 cells: {:.0} ms ({:.0} MB/s, {} values masked: {:?})",
        secs * 1e3,
        mb_per_s(bytes, secs),
        counts.count,
        counts.kinds
    );
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let once = args.iter().any(|a| a == "--once");
    args.retain(|a| a != "--once");
    let runs = if once { 1 } else { 3 };
    let wanted = |case: &str| args.is_empty() || args.iter().any(|a| a == case);
    let masker = Masker::new(&MaskConfig::default()).expect("masker");
    masker.add_secret("a-leased-password-7f3a");
    let size = 32 << 20;
    println!("masker throughput, one thread, default rules, one registered secret");
    if wanted("clean") {
        text_case(&masker, runs, "no matches", &clean_text(size));
    }
    if wanted("code") {
        text_case(&masker, runs, "code", &code_text(size));
    }
    if wanted("dense") {
        text_case(&masker, runs, "dense", &dense_text(size));
    }
    if wanted("rows") {
        rows_case(&masker, runs);
    }
}
