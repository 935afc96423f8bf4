//! The prefilter changes what the regex reads, never what it finds: every match of every rule
//! lies inside a window, and searching the windows finds exactly what searching the whole text
//! finds, wherever a value falls against the prefilter's blocks and however dense the text.

use regex_automata::util::syntax;
use regex_automata::{Input, meta};
use regex_syntax::hir::{Class, Hir, HirKind};

use super::engine::{Engine, Hit};
use super::rules::{RULES, Rule};
use super::tests::{Rng, random_input};
use super::*;

/// The prefilter's block, from `prefilter::STEP`.
const BLOCK: usize = 4096;

fn parse(rule: &Rule) -> Hir {
    let config = syntax::Config::new().unicode(false).utf8(false);
    syntax::parse_with(rule.pattern, &config).unwrap()
}

/// Appends a random text that `hir` matches, its look-arounds aside (`\b` may not hold).
fn sample(hir: &Hir, rng: &mut Rng, out: &mut Vec<u8>) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(literal) => out.extend_from_slice(&literal.0),
        HirKind::Class(Class::Bytes(class)) => {
            let range = class.ranges()[rng.below(class.ranges().len())];
            let span = usize::from(range.end() - range.start());
            out.push(range.start() + rng.below(span + 1) as u8);
        }
        HirKind::Class(Class::Unicode(class)) => {
            let range = class.ranges()[rng.below(class.ranges().len())];
            let span = range.end() as usize - range.start() as usize;
            let c = char::from_u32(range.start() as u32 + rng.below(span + 1) as u32);
            let mut buf = [0u8; 4];
            out.extend_from_slice(c.unwrap_or('x').encode_utf8(&mut buf).as_bytes());
        }
        HirKind::Repetition(rep) => {
            let max = rep.max.unwrap_or(rep.min + 8);
            let n = rep.min as usize + rng.below((max - rep.min) as usize + 1);
            for _ in 0..n {
                sample(&rep.sub, rng, out);
            }
        }
        HirKind::Capture(capture) => sample(&capture.sub, rng, out),
        HirKind::Concat(all) => all.iter().for_each(|h| sample(h, rng, out)),
        HirKind::Alternation(any) => sample(&any[rng.below(any.len())], rng, out),
    }
}

/// Code-like text: identifiers, numbers, punctuation, and now and then what a trigger looks
/// like without a value after it.
fn filler(rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
    const WORDS: [&str; 16] = [
        "fn main() {\n",
        "    let x = 42;\n",
        "self.inner.len()",
        "// the token is checked\n",
        "0x7f7f_7f7f",
        " 2026-11-27 06:15:02 ",
        "u64::MAX ",
        "SHA256 ",
        "user@",
        "password",
        "https://",
        "1234 5678 ",
        "\t\"quoted\", ",
        "AKIA",
        "=> ",
        "        ",
    ];
    let end = out.len() + len;
    while out.len() < end {
        out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
    }
    out.truncate(end);
}

/// Code-like text with nothing a detector masks, nor anything that could join a value next
/// to it.
fn clean(rng: &mut Rng, len: usize, out: &mut Vec<u8>) {
    const WORDS: [&str; 8] = [
        "fn main() {\n",
        "    let x = 42;\n",
        "self.inner.len()",
        "// checked here\n",
        "0x7f_7f ",
        "u64::MAX ",
        "\t\"quoted\", ",
        "        ",
    ];
    let end = out.len() + len;
    while out.len() < end {
        out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
    }
    out.truncate(end);
}

/// Every start of a match of `re` in `hay`, with the match there.
fn matches(re: &meta::Regex, hay: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(m) = re.search(&Input::new(hay).span(at..hay.len())) {
        found.push(m.range());
        at = m.start() + 1;
    }
    found
}

/// Engines for every detector and for the default set (without `phone`, whose digit runs
/// would hide a card's).
fn engines() -> [Engine; 2] {
    [
        Engine::new(&Kind::DETECTORS).unwrap(),
        Engine::new(&default_detectors()).unwrap(),
    ]
}

#[test]
fn every_match_of_every_rule_lies_in_a_window() {
    for engine in engines() {
        every_match_lies_in_a_window(&engine);
    }
}

fn every_match_lies_in_a_window(engine: &Engine) {
    let mut rng = Rng(0x51ab_1e5e_ed00_0001);
    let config = syntax::Config::new().unicode(false).utf8(false);
    let mut checked = 0;
    for rule in RULES.iter().filter(|r| engine.has(r.kind)) {
        let hir = parse(rule);
        let re = meta::Builder::new()
            .syntax(config)
            .build(rule.pattern)
            .unwrap();
        for round in 0..400 {
            let mut value = Vec::new();
            sample(&hir, &mut rng, &mut value);
            // Around a block boundary (the value straddling it, or just either side) or
            // anywhere in the first blocks.
            let lead = match round % 3 {
                0 => BLOCK * (1 + rng.below(2)) - rng.below(value.len() + 70),
                _ => rng.below(3 * BLOCK),
            };
            // Half the time around nothing else that could trigger a window.
            let around = if round % 2 == 0 { clean } else { filler };
            let mut hay = Vec::new();
            around(&mut rng, lead, &mut hay);
            hay.push(b' ');
            hay.extend_from_slice(&value);
            hay.push(b' ');
            let tail = rng.below(600);
            around(&mut rng, tail, &mut hay);
            let windows = engine.windows(&hay, 0);
            for m in matches(&re, &hay) {
                assert!(
                    windows.iter().any(|w| w.start <= m.start && m.end <= w.end),
                    "{:?} match {m:?} ({:?}) outside {windows:?}",
                    rule.kind,
                    String::from_utf8_lossy(&hay[m.clone()]),
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 18 * 400, "{checked}");
}

/// What `find` reported, to compare.
fn found(hits: &[Hit], pending: Option<usize>) -> (Vec<String>, Option<usize>) {
    let hits = hits
        .iter()
        .map(|h| format!("{:?} {:?} {:?}", h.kind, h.whole, h.mask))
        .collect();
    (hits, pending)
}

/// Text with values of every rule at random places, stretches dense with values (which the
/// prefilter searches whole after a while) and random bytes.
fn mixed_text(rng: &mut Rng, rules: &[Hir]) -> Vec<u8> {
    let mut hay = Vec::new();
    let len = 200 + rng.below(5 * BLOCK);
    while hay.len() < len {
        match rng.below(4) {
            0 => {
                let len = rng.below(700);
                filler(rng, len, &mut hay);
            }
            1 => {
                hay.push(b' ');
                sample(&rules[rng.below(rules.len())], rng, &mut hay);
                hay.push(b' ');
            }
            2 => hay.extend_from_slice(&random_input(rng)),
            _ => {
                for i in 0..rng.below(150) {
                    let line =
                        format!("{{\"e\":\"u{i}@example.com\",\"c\":\"4111 1111 1111 1111\"}}\n");
                    hay.extend_from_slice(line.as_bytes());
                }
            }
        }
    }
    hay
}

#[test]
fn searching_the_windows_finds_what_searching_everything_finds() {
    for engine in engines() {
        windows_find_what_everything_finds(&engine);
    }
}

fn windows_find_what_everything_finds(engine: &Engine) {
    let rules: Vec<Hir> = RULES.iter().map(parse).collect();
    let mut rng = Rng(0x0dd5_eed5_0000_0002);
    let mut hits_seen = 0;
    for _ in 0..300 {
        let hay = mixed_text(&mut rng, &rules);
        let from = match rng.below(3) {
            0 => 0,
            _ => rng.below(hay.len()),
        };
        for at_end in [true, false] {
            let (mut fast, mut whole) = (Vec::new(), Vec::new());
            let pending = engine.find(&hay, from, at_end, &mut fast);
            let expected = engine.find_unfiltered(&hay, from, at_end, &mut whole);
            assert_eq!(
                found(&fast, pending),
                found(&whole, expected),
                "from {from} in {:?}",
                String::from_utf8_lossy(&hay)
            );
            hits_seen += whole.len();
        }
    }
    assert!(hits_seen > 10_000, "{hits_seen}");
}

/// Short texts without a letter skip the regex unless they hold a number a rule needs: they
/// find what a search of the whole text finds, and hold for the same place in a stream.
#[test]
fn short_texts_without_letters_find_what_everything_finds() {
    let numeric: Vec<Hir> = RULES
        .iter()
        .filter(|r| r.keywords.is_empty())
        .map(parse)
        .collect();
    let mut rng = Rng(8);
    let mut hits_seen = 0;
    for engine in engines() {
        for _ in 0..20_000 {
            let mut hay = Vec::new();
            while hay.len() < 1 + rng.below(64) {
                match rng.below(3) {
                    0 => sample(&numeric[rng.below(numeric.len())], &mut rng, &mut hay),
                    _ => hay.push(b"0123456789 -.()+/:@=_,#\n"[rng.below(23)]),
                }
            }
            hay.truncate(64);
            let text = String::from_utf8_lossy(&hay);
            // Whole, and as a chunk of a stream that more may follow.
            for at_end in [true, false] {
                let (mut fast, mut whole) = (Vec::new(), Vec::new());
                let pending = engine.find(&hay, 0, at_end, &mut fast);
                let expected = engine.find_unfiltered(&hay, 0, at_end, &mut whole);
                assert_eq!(found(&fast, pending), found(&whole, expected), "{text}");
                hits_seen += whole.len();
            }
        }
    }
    assert!(hits_seen > 1000, "{hits_seen}");
}

#[test]
fn a_value_across_a_block_boundary_is_masked() {
    let m = Masker::with_key(&MaskConfig::default(), b"k").unwrap();
    let values = [
        ("bob@example.com", Kind::Email),
        ("4111 1111 1111 1111", Kind::CreditCard),
        ("123-45-6789", Kind::Ssn),
        ("DE89 3704 0044 0532 0130 00", Kind::Iban),
        (
            "ghp_1234567890abcdefghijklmnopqrstuvwxyz",
            Kind::GithubToken,
        ),
        ("password=hunter2hunter2", Kind::GenericSecret),
        ("https://app:pa55word@db.internal/x", Kind::GenericSecret),
    ];
    let mut rng = Rng(3);
    for (value, kind) in values {
        for cut in 0..=value.len() {
            let mut hay = Vec::new();
            clean(&mut rng, BLOCK - cut - 1, &mut hay);
            hay.push(b' ');
            hay.extend_from_slice(value.as_bytes());
            hay.push(b' ');
            clean(&mut rng, 500, &mut hay);
            let masked = m.mask_bytes(&hay);
            let text = String::from_utf8_lossy(&masked.text);
            assert!(!text.contains(value), "{value} cut at {cut}: {text}");
            assert!(
                masked.counts.kinds.get(kind.name()).is_some(),
                "{value} cut at {cut}"
            );
            let mut stream = m.stream();
            let mut out = Vec::new();
            for chunk in hay.chunks(1000 + cut) {
                out.extend(stream.push(chunk));
            }
            out.extend(stream.finish());
            assert_eq!(out, masked.text.as_ref(), "{value} cut at {cut}, streamed");
        }
    }
}

#[test]
fn the_shortest_numbers_each_rule_takes_are_triggers_at_every_alignment() {
    for engine in engines() {
        shortest_numbers_are_triggers(&engine);
    }
}

fn shortest_numbers_are_triggers(engine: &Engine) {
    let numbers = [
        "4111 1111 1111 1",
        "4111-1111-1111-1",
        "4111111111111",
        "3782 822463 10005",
        "123-45-6789",
        "+12345678",
        "(415) 555-2671",
        "+1 415.555.2671",
        "DE89 3704 0044 0532 0130 00",
        "GB82WEST12345698765432",
    ];
    let mut rng = Rng(6);
    let phone = |n: &str| n.contains('(') || n.starts_with('+');
    for number in numbers
        .into_iter()
        .filter(|n| engine.has(Kind::Phone) || !phone(n))
    {
        for lead in (0..17).chain(BLOCK - 20..BLOCK + 2) {
            let mut hay = Vec::new();
            clean(&mut rng, lead, &mut hay);
            hay.push(b' ');
            let value = hay.len()..hay.len() + number.len();
            hay.extend_from_slice(number.as_bytes());
            hay.push(b' ');
            clean(&mut rng, 100, &mut hay);
            let windows = engine.windows(&hay, 0);
            assert!(
                windows
                    .iter()
                    .any(|w| w.start <= value.start && value.end <= w.end),
                "{number} at {lead}: {windows:?}"
            );
        }
    }
}

#[test]
fn a_value_across_the_edge_of_blocks_searched_whole_is_masked() {
    let mut rng = Rng(7);
    // Blocks dense with values are searched whole, and so are the blocks after them: a first
    // block dense in its first half (the windows of its values end before it does), and a
    // second one after a clean one, dense with keywords in its middle (found before the digits
    // would be counted), far from either edge.
    let mut first = Vec::new();
    for i in 0..64 {
        first.extend_from_slice(format!("u{i}@ex.com 4111111111111111\n").as_bytes());
    }
    assert!(first.len() < BLOCK / 2);
    clean(&mut rng, BLOCK - first.len(), &mut first);
    let mut second = Vec::new();
    clean(&mut rng, BLOCK + 1500, &mut second);
    second.extend_from_slice(&b"token ".repeat(64));
    clean(&mut rng, 2 * BLOCK - second.len(), &mut second);
    let values = [
        "password=hunter2hunter2",
        "my_db_password=hunter2hunter2",
        "bob.smith.of.the.long.local.part@example.com",
        "4111 1111 1111 1111",
    ];
    for dense in [first, second] {
        for value in values {
            // Across the edges of the blocks, and late in the second block (far from its
            // keywords). The regex matches `password=h`: cuts of 5 and 9 put its keyword on
            // either side.
            for at in (1..6).map(|edge| edge * BLOCK).chain([BLOCK + 3000]) {
                for cut in [1, 5, 9, value.len() / 2, value.len() - 1] {
                    assert_masked_at(&dense, at - cut, value, &mut rng);
                }
            }
        }
    }
}

/// `value` at `at` in `lead` and clean text after it, masked.
#[track_caller]
fn assert_masked_at(lead: &[u8], at: usize, value: &str, rng: &mut Rng) {
    let m = Masker::with_key(&MaskConfig::default(), b"k").unwrap();
    let mut hay = lead[..at.min(lead.len())].to_vec();
    clean(rng, at.saturating_sub(hay.len()), &mut hay);
    hay.push(b' ');
    hay.extend_from_slice(value.as_bytes());
    hay.push(b' ');
    if let Some(rest) = lead.get(hay.len()..) {
        hay.extend_from_slice(rest);
    }
    clean(rng, 300, &mut hay);
    let masked = m.mask_bytes(&hay);
    let text = String::from_utf8_lossy(&masked.text);
    assert!(!text.contains(value), "{value} at {at}");
}

#[test]
fn a_value_after_a_stretch_dense_with_values_is_masked() {
    let m = Masker::with_key(&MaskConfig::default(), b"k").unwrap();
    let mut hay = Vec::new();
    for i in 0..200 {
        hay.extend_from_slice(format!("u{i}@example.com 4111111111111111\n").as_bytes());
    }
    let mut rng = Rng(4);
    for (at, value) in [(0, "token: abcdefgh12345"), (700, "ssn 078-05-1120")] {
        clean(&mut rng, at, &mut hay);
        hay.extend_from_slice(format!(" {value} ").as_bytes());
    }
    clean(&mut rng, 3 * BLOCK, &mut hay);
    hay.extend_from_slice(b" 078-05-1120 and a@b.co");
    let masked = m.mask_bytes(&hay);
    let text = String::from_utf8_lossy(&masked.text);
    for value in ["abcdefgh12345", "078-05-1120", "a@b.co", "u199@example.com"] {
        assert!(!text.contains(value), "{value}");
    }
    assert_eq!(masked.counts.count, 200 * 2 + 4);
}

#[test]
fn a_value_inside_a_long_clean_cell_is_masked() {
    let m = Masker::with_key(&MaskConfig::default(), b"k").unwrap();
    m.add_secret("leased-Pw-93xk");
    let mut rng = Rng(5);
    let mut cell = Vec::new();
    clean(&mut rng, 10_000, &mut cell);
    cell.extend_from_slice(b" carol@example.org leased-Pw-93xk ");
    clean(&mut rng, 10_000, &mut cell);
    let masked = m.snapshot().mask_value(&m.column("notes"), &cell);
    let text = String::from_utf8_lossy(&masked.text);
    assert!(!text.contains("carol@example.org") && text.contains("c***@example.org"));
    assert!(!text.contains("leased-Pw-93xk") && text.contains("[redacted]"));
}

/// `Needles::each` passes over a keyword its rule cannot match at by one byte: another keyword
/// of the same searcher starting at the same byte would be missed, which only one that the
/// first is a prefix of can be. (Keywords of one byte, of two or three and of four or more are
/// searched apart, see `Prefilter`.)
#[test]
fn no_keyword_starts_another_of_its_searcher() {
    let words: Vec<String> = RULES
        .iter()
        .flat_map(|r| r.keywords)
        .map(|k| k.to_ascii_lowercase())
        .collect();
    let searcher = |w: &str| match w.len() {
        1 => 1,
        2 | 3 => 2,
        _ => 4,
    };
    for a in &words {
        for b in &words {
            let apart = searcher(a) != searcher(b);
            assert!(
                a == b || apart || !b.starts_with(a.as_str()),
                "`{a}` starts `{b}`"
            );
        }
    }
}

/// A keyword of the assignment rule opens a window only where the key could end with it, and
/// passing over one that cannot still finds a keyword that overlaps it; text that ends right
/// after a keyword keeps its window, since what follows may come in the next chunk.
#[test]
fn assignment_keywords_open_windows_only_where_a_key_can_end() {
    let engine = Engine::new(&[Kind::GenericSecret]).unwrap();
    let pad = "x".repeat(300);
    for text in [
        "secretoken = v4lue-one",
        "my_secret.len() and the_token = v4lue-two",
        "tokensecret_key: 'v4lue-three'",
        "PASSWORD\t=> v4lue-four",
        "signing-key =  v4lue-five",
        "secrets = none; tokenize(x); password",
    ] {
        let hay = format!("{pad} {text} {pad}").into_bytes();
        let (mut fast, mut whole) = (Vec::new(), Vec::new());
        let pending = engine.find(&hay, 0, true, &mut fast);
        let expected = engine.find_unfiltered(&hay, 0, true, &mut whole);
        assert_eq!(found(&fast, pending), found(&whole, expected), "{text}");
    }
    let windows = |text: &str| engine.windows(format!("{pad}{text}{pad}").as_bytes(), 0);
    assert!(windows(" the token is checked; secret.len() ").is_empty());
    assert_eq!(windows(" secretoken = v ").len(), 1);
    let m = Masker::with_key(&MaskConfig::default(), b"k").unwrap();
    let text = "db password = hunter2x\n";
    assert_eq!(m.mask_bytes(text.as_bytes()).counts.count, 1);
    super::tests::assert_split_anywhere_masks_as_whole(&m, text);
}
