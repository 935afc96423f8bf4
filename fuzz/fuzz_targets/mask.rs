//! The masker on arbitrary input: it never panics, a stream cut anywhere masks like one pass,
//! and no output ever holds a registered secret.
//!
//! Input: a byte choosing style and detectors, a byte choosing the chunk size, a byte giving
//! the length of a secret to register, the secret, then the text. Registering a secret of the
//! input's own needs a masker of its own (a millisecond to build, far more under the
//! sanitizer), so only selectors from 0xF0 up do; the others share six cached maskers.

#![no_main]

#[allow(dead_code, unused_imports)]
#[path = "../../src/mask/mod.rs"]
mod mask;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mask::{Kind, MaskConfig, Masker, Style};

/// Registered in every cached masker; the seed corpus holds it so the fuzzer finds it.
const FIXED_SECRET: &str = "Fz9SecretKey7Qx";

fn config(selector: u8) -> MaskConfig {
    let style = [Style::Partial, Style::Full, Style::Token][usize::from(selector % 3)];
    let detectors = if selector & 4 == 0 {
        mask::default_detectors()
    } else {
        Kind::DETECTORS.to_vec()
    };
    MaskConfig {
        columns: mask::DEFAULT_COLUMNS
            .iter()
            .map(|c| c.to_string())
            .collect(),
        detectors,
        style,
    }
}

/// Building a masker compiles its regex (about a millisecond): six are built once.
fn cached(selector: u8) -> Masker {
    static MASKERS: OnceLock<Vec<Masker>> = OnceLock::new();
    let all = MASKERS.get_or_init(|| {
        (0..6u8)
            .map(|i| {
                let m = Masker::new(&config(if i < 3 { i } else { i + 1 })).expect("masker");
                m.add_secret(FIXED_SECRET);
                m
            })
            .collect()
    });
    let index = usize::from(selector % 3) + if selector & 4 == 0 { 0 } else { 3 };
    all[index].clone()
}

/// The guarantee covers credentials as guard holds them: 8 or more letters and digits.
fn guaranteed(secret: &[u8]) -> bool {
    secret.len() >= 8 && secret.iter().all(u8::is_ascii_alphanumeric)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let [selector, chunk, secret_len, rest @ ..] = data else {
        return;
    };
    let (secret, text) = rest.split_at(usize::from(*secret_len).min(rest.len()));
    let masker = if secret.is_empty() || *selector < 0xF0 {
        cached(*selector)
    } else {
        let fresh = Masker::new(&config(*selector)).expect("masker");
        fresh.add_secret(FIXED_SECRET);
        fresh.add_secret(secret);
        fresh
    };
    let whole = masker.mask_bytes(text).text.into_owned();
    let registered = if *selector < 0xF0 { &[][..] } else { secret };
    for s in [FIXED_SECRET.as_bytes(), registered] {
        if guaranteed(s) {
            assert!(!contains(&whole, s), "a registered secret survived");
        }
    }
    let mut stream = masker.stream();
    let mut streamed = Vec::new();
    for piece in text.chunks(usize::from(*chunk).max(1)) {
        streamed.extend(stream.push(piece));
    }
    streamed.extend(stream.finish());
    assert_eq!(streamed, whole, "a stream masked differently from one pass");
    let lossy = String::from_utf8_lossy(text);
    let _ = masker.mask_cell(Some("email"), &lossy);
    let _ = masker.mask_cell(Some("api_token"), &lossy);
    if let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(text) {
        let _ = masker.mask_json(&mut doc);
        let out = doc.to_string();
        assert!(
            !out.contains(FIXED_SECRET),
            "a registered secret survived in JSON"
        );
    }
});
