//! The masker's promises, detector by detector, then styles, streams, JSON, registered secrets
//! and arbitrary input.

use super::*;

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MaPSzzWTGQm1o7Ld\nqQeM3h6Gn5ktcYpX9Lx0nrnfOB7lDYx3vW9qiPMVW4IVqN5I4M01qBGzjDUs5ghW\n-----END RSA PRIVATE KEY-----";

fn config(detectors: &[Kind], style: Style, columns: &[&str]) -> MaskConfig {
    MaskConfig {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        detectors: detectors.to_vec(),
        style,
    }
}

fn masker_with(config: &MaskConfig) -> Masker {
    Masker::with_key(config, b"a fixed key for tests").unwrap()
}

fn default_masker() -> Masker {
    masker_with(&MaskConfig::default())
}

fn mask(text: &str) -> String {
    default_masker().mask_text(text).text.into_owned()
}

/// Masks `text` and checks `value` is gone and `kind` was counted once.
#[track_caller]
fn assert_masked(m: &Masker, text: &str, value: &str, kind: Kind) -> String {
    let masked = m.mask_text(text);
    assert!(
        !masked.text.contains(value),
        "{value} survived in {}",
        masked.text
    );
    assert_eq!(
        masked.counts.kinds.get(kind.name()),
        Some(&1),
        "{text} -> {masked:?}"
    );
    masked.text.into_owned()
}

#[track_caller]
fn assert_untouched(m: &Masker, text: &str) {
    let masked = m.mask_text(text);
    assert!(
        matches!(masked.text, Cow::Borrowed(_)) && masked.counts.is_empty(),
        "{text} was masked: {masked:?}"
    );
}

#[test]
fn text_without_triggers_is_returned_borrowed() {
    let m = default_masker();
    assert_untouched(&m, "");
    assert_untouched(
        &m,
        "SELECT id, name FROM customers WHERE id = 42 ORDER BY name",
    );
    assert_untouched(
        &m,
        "plain prose, with numbers like 12 and 2024 but nothing else",
    );
}

#[test]
fn emails_in_text_json_and_arrays() {
    let m = default_masker();
    assert_eq!(
        mask("mail bob@example.com now"),
        "mail b***@example.com now"
    );
    let json = assert_masked(
        &m,
        r#"{"contact":"alice@shop.example.org"}"#,
        "alice@",
        Kind::Email,
    );
    assert_eq!(json, r#"{"contact":"a***@shop.example.org"}"#);
    let masked = m.mask_text(r#"["ann@x.io","ben@y.io"]"#);
    assert_eq!(masked.text, r#"["a***@x.io","b***@y.io"]"#);
    assert_eq!(masked.counts.count, 2);
}

#[test]
fn email_like_strings_that_are_not_addresses() {
    let m = default_masker();
    assert_untouched(&m, "ssh user@localhost");
    assert_untouched(&m, "<img src=icon@2x.png>");
    assert_untouched(&m, "@everyone and foo@ and @bar.com");
}

#[test]
fn cards_of_every_brand_with_and_without_separators() {
    let m = default_masker();
    for card in [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5555555555554444",
        "2223003122003222",
        "378282246310005",
        "3782 822463 10005",
        "6011111111111117",
        "3530111333300000",
        "30569309025904",
        "6200000000000005",
    ] {
        let out = assert_masked(&m, &format!("card: {card}."), card, Kind::CreditCard);
        let last4 = &card[card.len() - 4..];
        assert!(out.ends_with(&format!("{last4}.")), "{out}");
    }
    assert_eq!(mask("4111 1111 1111 1111"), "**** **** **** 1111");
}

#[test]
fn numbers_that_only_look_like_cards() {
    let m = default_masker();
    assert!(!validate::luhn(&validate::digits(b"4111111111111112")));
    assert_untouched(&m, "card 4111 1111 1111 1112");
    // Order ids, timestamps and Luhn-valid numbers with no card brand.
    assert!(!validate::luhn(&validate::digits(b"4000123412341235")));
    assert_untouched(&m, "order 4000123412341235 shipped");
    assert_untouched(&m, "ts=1732690000000 id=1234567812345670");
    assert_untouched(&m, "mixed 4111 1111-1111 1111");
}

#[test]
fn cards_in_json_row_to_json_and_string_agg() {
    let m = default_masker();
    let row = r#"{"id":7,"card_number":"4111111111111111","note":"ok"}"#;
    assert_eq!(
        m.mask_text(row).text,
        r#"{"id":7,"card_number":"************1111","note":"ok"}"#
    );
    let agg = m.mask_text("4111111111111111, 5555555555554444,378282246310005");
    assert_eq!(agg.counts.kinds.get("credit_card"), Some(&3), "{agg:?}");
}

#[test]
fn ssns_with_dashes_or_labelled() {
    let m = default_masker();
    assert_eq!(mask("ssn 123-45-6789 on file"), "ssn ***-**-6789 on file");
    assert_masked(&m, "SSN: 123456789", "123456789", Kind::Ssn);
    assert_masked(&m, r#"{"ssn":"123456789"}"#, "123456789", Kind::Ssn);
    assert_masked(
        &m,
        "social security number is 123 45 6789",
        "123 45",
        Kind::Ssn,
    );
    // Nine digits without a label are an id, not an SSN.
    assert_untouched(&m, "invoice 123456789");
}

#[test]
fn ssns_outside_the_issued_ranges() {
    let m = default_masker();
    for ssn in [
        "000-12-3456",
        "666-12-3456",
        "900-12-3456",
        "987-65-4321",
        "123-00-4567",
        "123-45-0000",
    ] {
        assert_untouched(&m, &format!("ssn {ssn}"));
    }
}

#[test]
fn phones_only_when_listed() {
    let m = default_masker();
    assert_untouched(&m, "call (415) 555-2671");
    let phones = masker_with(&config(&[Kind::Phone], Style::Partial, &[]));
    assert_eq!(
        phones.mask_text("call (415) 555-2671").text,
        "call (***) ***-2671"
    );
    assert_masked(&phones, "call +14155552671", "4155552671", Kind::Phone);
    assert_masked(&phones, "call 415-555-2671 now", "415-555", Kind::Phone);
}

#[test]
fn ibans_pass_mod_97() {
    let m = default_masker();
    assert_eq!(
        mask("pay to DE89 3704 0044 0532 0130 00."),
        "pay to DE** **** **** **** **30 00."
    );
    assert_masked(&m, "iban=GB82WEST12345698765432", "WEST1234", Kind::Iban);
    assert_untouched(&m, "iban DE89370400440532013001");
}

#[test]
fn jwts_and_base64_that_is_not_one() {
    let m = default_masker();
    assert_eq!(mask(&format!("id {JWT}.")), "id eyJ****.");
    assert_masked(&m, &format!(r#"{{"jwt":"{JWT}"}}"#), "SflKxw", Kind::Jwt);
    // Pagination cursors and blobs that start like a JWT but are not one.
    assert_untouched(&m, "cursor eyJwYWdlIjoyfQ== next");
    assert_untouched(&m, "blob eyJwYWdlIjoyfQ.eyJwYWdlIjoyfQ.c2lnbmF0dXJl end");
    assert_untouched(&m, "data aGVsbG8gd29ybGQgdGhpcyBpcyBiYXNlNjQ=");
}

#[test]
fn private_key_blocks_whole_and_truncated() {
    let m = default_masker();
    let out = assert_masked(
        &m,
        &format!("key:\n{PEM}\nafter"),
        "MIIEow",
        Kind::PrivateKey,
    );
    assert_eq!(
        out,
        "key:\n-----BEGIN RSA PRIVATE KEY-----****-----END RSA PRIVATE KEY-----\nafter"
    );
    // A key cut short is masked to the end rather than leaked.
    let cut = &PEM[..80];
    let out = assert_masked(&m, cut, "MIIEow", Kind::PrivateKey);
    assert_eq!(out, "-----BEGIN RSA PRIVATE KEY-----****");
    let escaped = PEM.replace('\n', "\\n");
    assert_masked(
        &m,
        &format!(r#"{{"key":"{escaped}"}}"#),
        "MIIEow",
        Kind::PrivateKey,
    );
}

/// One sample per token kind, as issuers write them.
const TOKENS: [(&str, Kind); 16] = [
    ("AKIAIOSFODNN7EXAMPLE", Kind::AwsKey),
    (
        "ghp_1234567890abcdefghijklmnopqrstuvwxyz",
        Kind::GithubToken,
    ),
    (
        "gho_1234567890abcdefghijklmnopqrstuvwxyz",
        Kind::GithubToken,
    ),
    (
        "ghu_1234567890abcdefghijklmnopqrstuvwxyz",
        Kind::GithubToken,
    ),
    (
        "ghs_1234567890abcdefghijklmnopqrstuvwxyz",
        Kind::GithubToken,
    ),
    (
        "ghr_1234567890abcdefghijklmnopqrstuvwxyz",
        Kind::GithubToken,
    ),
    (
        "github_pat_11ABCDEFG0123456789abc_defghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVW",
        Kind::GithubToken,
    ),
    ("glpat-AbCdEfGhIjKlMnOpQrSt", Kind::GitlabToken),
    (
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        Kind::SlackToken,
    ),
    ("xoxp-123456789012-abcdef", Kind::SlackToken),
    ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", Kind::StripeKey),
    ("rk_live_4eC39HqLyjWDarjtT1zdp7dc", Kind::StripeKey),
    ("sk_test_4eC39HqLyjWDarjtT1zdp7dc", Kind::StripeKey),
    ("sk-proj-AbCdEf1234567890GhIjKlMnOp", Kind::OpenaiKey),
    (
        "sk-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGhIjKl",
        Kind::OpenaiKey,
    ),
    (
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd",
        Kind::AnthropicKey,
    ),
];

#[test]
fn cloud_and_vcs_tokens() {
    let m = default_masker();
    for (token, kind) in TOKENS {
        assert_masked(
            &m,
            &format!("use {token} here"),
            &token[token.len() - 8..],
            kind,
        );
        assert_masked(
            &m,
            &format!(r#"{{"k":"{token}"}}"#),
            &token[token.len() - 8..],
            kind,
        );
    }
    assert_eq!(mask("ghp_1234567890abcdefghijklmnopqrstuvwxyz"), "ghp_****");
    assert_eq!(
        mask("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"),
        "sk-ant-****"
    );
}

#[test]
fn token_lookalikes_stay() {
    let m = default_masker();
    assert_untouched(&m, "git checkout sk-this-is-a-long-branch-name-for-work");
    assert_untouched(&m, "ghp_short and xoxb-1 and glpat-x");
    assert_untouched(&m, "AKIA alone");
}

#[test]
fn aws_secret_keys_only_near_an_aws_label() {
    let m = default_masker();
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    let out = assert_masked(
        &m,
        &format!("aws_secret_access_key = {secret}\n"),
        "wJalr",
        Kind::AwsKey,
    );
    assert_eq!(out, "aws_secret_access_key = ****\n");
    assert_masked(
        &m,
        &format!(r#"{{"AwsSecretKey": "{secret}"}}"#),
        "wJalr",
        Kind::AwsKey,
    );
    assert_untouched(&m, &format!("checksum {secret} ok"));
}

#[test]
fn assignments_mask_the_value_part() {
    let cases = [
        ("password=hunter2 next", "password=**** next"),
        ("DB_PASSWORD: correct-horse", "DB_PASSWORD: ****"),
        ("secret = s3cr3t-value-1;", "secret = ****;"),
        ("token=abcdef123456&page=2", "token=****&page=2"),
        ("api_key: 0123abcd4567efgh", "api_key: ****"),
        (r#"{"password": "two words"}"#, r#"{"password": "****"}"#),
        (
            r#"{"client_secret":"a\"b-c-d-e-f"}"#,
            r#"{"client_secret":"****"}"#,
        ),
        (
            "postgres://app:pa55word@db.internal:5432/shop",
            "postgres://app:****@db.internal:5432/shop",
        ),
        (
            "Authorization: Bearer abc123def456ghi789jkl",
            "Authorization: Bearer ****",
        ),
        (
            "Authorization: Basic dXNlcjpwYXNzd29yZA==",
            "Authorization: Basic ****",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(mask(text), want, "{text}");
    }
}

/// The keywords once missed these spellings: with nothing else in the text to set the search
/// off, their values went through.
#[test]
fn an_access_key_or_private_key_written_as_one_word_is_masked() {
    let m = default_masker();
    for key in ["accesskey", "AccessKey", "privatekey", "PRIVATEKEY"] {
        let lead = "let settings = load(); // what the service reads at start-up\n".repeat(3);
        let text = format!("{lead}{key} = Xy7sLk2Qw9Zr");
        let out = assert_masked(&m, &text, "Xy7sLk2Qw9Zr", Kind::GenericSecret);
        assert_eq!(out, format!("{lead}{key} = ****"));
    }
}

#[test]
fn assignments_that_are_not_secrets() {
    let m = default_masker();
    for text in [
        "token_count: 42",
        "token_type: bearer",
        "password: null",
        "password=****",
        "the secret: it",
        "a bearer token is short",
        "basic understanding",
        "PWD=/home/me",
    ] {
        assert_untouched(&m, text);
    }
}

#[test]
fn detectors_can_be_chosen() {
    let only_email = masker_with(&config(&[Kind::Email], Style::Partial, &[]));
    assert_untouched(
        &only_email,
        "card 4111 1111 1111 1111 ghp_1234567890abcdefghijklmnopqrstuvwxyz",
    );
    assert_eq!(only_email.mask_text("x a@b.co").text, "x a***@b.co");
    let none = masker_with(&config(&[], Style::Partial, &[]));
    assert_untouched(&none, "a@b.co 4111111111111111");
    assert_eq!(
        detectors_from_names(["default"]).unwrap(),
        default_detectors()
    );
    assert!(!default_detectors().contains(&Kind::Phone));
    let with_phone = detectors_from_names(["default", "phone"]).unwrap();
    assert_eq!(with_phone.len(), Kind::DETECTORS.len());
    let err = detectors_from_names(["email", "emial"]).unwrap_err();
    assert!(
        err.contains("`emial`") && err.contains("credit_card"),
        "{err}"
    );
}

#[test]
fn every_pattern_is_bounded_so_the_stream_window_is_too() {
    let m = default_masker();
    let all = masker_with(&config(&Kind::DETECTORS, Style::Partial, &[]));
    assert!(m.inner.engine.max_len < 1024, "{}", m.inner.engine.max_len);
    assert!(
        all.inner.engine.max_len < 1024,
        "{}",
        all.inner.engine.max_len
    );
}

#[test]
fn styles_full_and_token() {
    let full = masker_with(&config(&default_detectors(), Style::Full, &[]));
    assert_eq!(
        full.mask_text("bob@example.com 4111111111111111 password=x")
            .text,
        "[email] [credit_card] password=[secret]"
    );
    let token = masker_with(&config(&default_detectors(), Style::Token, &[]));
    let a = token.mask_text("bob@example.com").text.into_owned();
    assert!(
        a.starts_with("email_") && a.len() == "email_".len() + 12,
        "{a}"
    );
    assert_eq!(
        token.mask_text("BOB@example.com").text,
        a,
        "case does not split a join"
    );
    assert_ne!(token.mask_text("ann@example.com").text, a);
}

#[test]
fn tokens_are_stable_within_a_session_and_differ_across_sessions() {
    let cfg = config(&default_detectors(), Style::Token, &["email"]);
    let one = Masker::new(&cfg).unwrap();
    let clone = one.clone();
    let two = Masker::new(&cfg).unwrap();
    let text = "card 4111 1111 1111 1111";
    let first = one.mask_text(text).text.into_owned();
    assert_eq!(clone.mask_text(text).text, first);
    assert_eq!(one.mask_text("card 4111111111111111").text, first);
    assert_ne!(two.mask_text(text).text, first);
    // A column masked whole and the same value in free text get the same token.
    let cell = one
        .mask_cell(Some("email"), "bob@example.com")
        .text
        .into_owned();
    assert_eq!(one.mask_text("bob@example.com").text, cell);
}

#[test]
fn cells_by_column_glob_label_or_detectors() {
    let m = default_masker();
    assert!(
        m.column_masked("EMAIL") && m.column_masked("customer_ssn") && !m.column_masked("name")
    );
    let cell = m.mask_cell(Some("email"), "bob@example.com");
    assert_eq!(
        (cell.text.as_ref(), cell.counts.count),
        ("b***@example.com", 1)
    );
    assert_eq!(
        m.mask_cell(Some("password_hash"), "$2b$12$abc").text,
        "****"
    );
    assert_eq!(
        m.mask_cell(Some("card_no"), "4111111111111111").text,
        "************1111"
    );
    let kinds = m.mask_cell(Some("password"), "pw").counts.kinds;
    assert_eq!(kinds.get("generic_secret"), Some(&1));
    let kinds = m.mask_cell(Some("card_holder"), "Jane Doe").counts.kinds;
    assert_eq!(kinds.get("column"), Some(&1));
    assert_eq!(m.mask_cell(Some("api_token"), "abcdef123456").text, "****");
    assert_eq!(
        m.mask_cell(Some("tax_ssn_id"), "123456789").text,
        "*****6789"
    );
    assert_eq!(m.mask_cell(Some("token_count"), "42").text, "42");
    assert_eq!(
        m.mask_cell(Some("note"), "mail a@b.co").text,
        "mail a***@b.co"
    );
    assert_eq!(m.mask_cell(None, "plain").text, "plain");
    assert_eq!(
        m.mask_cell(Some("email"), "").text,
        "",
        "an empty cell hides nothing"
    );
}

#[test]
fn counts_merge_for_a_result_set_and_serialise() {
    let m = default_masker();
    let mut total = MaskCounts::default();
    for row in ["a@b.co", "c@d.co 4111111111111111", "nothing"] {
        total.merge(&m.mask_text(row).counts);
    }
    assert_eq!(
        total.to_json(),
        serde_json::json!({"count": 3, "kinds": {"credit_card": 1, "email": 2}})
    );
    assert_eq!(serde_json::to_value(&total).unwrap(), total.to_json());
}

#[test]
fn counted_kinds_are_listed_by_name_as_records_always_had_them() {
    let names: Vec<&str> = Kind::BY_NAME.iter().map(|k| k.name()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(names, sorted);
    for kind in Kind::DETECTORS
        .into_iter()
        .chain([Kind::Column, Kind::Secret])
    {
        assert!(Kind::BY_NAME.contains(&kind), "{kind:?}");
    }
    let mut counts = MaskCounts::default();
    for kind in [Kind::Secret, Kind::Email, Kind::AwsKey, Kind::Email] {
        counts.add(kind);
    }
    assert_eq!(
        counts.to_json().to_string(),
        r#"{"count":4,"kinds":{"aws_key":1,"email":2,"secret":1}}"#
    );
    assert_eq!(
        format!("{:?}", counts.kinds),
        r#"{"aws_key": 1, "email": 2, "secret": 1}"#
    );
    assert_eq!(counts.kinds.get("phone"), None);
}

/// Pushes `text` in the given pieces and returns what the stream emitted.
fn streamed(m: &Masker, pieces: &[&[u8]]) -> (Vec<u8>, MaskCounts) {
    let mut stream = m.stream();
    let mut out = Vec::new();
    for piece in pieces {
        out.extend(stream.push(piece));
    }
    out.extend(stream.finish());
    (out, stream.counts().clone())
}

fn sample_text() -> String {
    format!(
        "row 1: bob@example.com paid with 4111 1111 1111 1111, ssn 123-45-6789.\n\
         {{\"token\": \"{JWT}\", \"password\": \"two words\"}}\n\
         key {PEM}\nghp_1234567890abcdefghijklmnopqrstuvwxyz and DE89 3704 0044 0532 0130 00 \
         end sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 plain tail"
    )
}

#[test]
fn a_stream_split_at_every_byte_offset_masks_like_one_pass() {
    let m = default_masker();
    let text = sample_text();
    let bytes = text.as_bytes();
    let whole = m.mask_bytes(bytes);
    assert!(whole.counts.count >= 8, "{whole:?}");
    for split in 0..=bytes.len() {
        let (out, counts) = streamed(&m, &[&bytes[..split], &bytes[split..]]);
        assert_eq!(out, whole.text.as_ref(), "split at {split}");
        assert_eq!(counts, whole.counts, "split at {split}");
    }
}

#[test]
fn a_stream_fed_byte_by_byte_masks_like_one_pass() {
    let m = default_masker();
    let text = sample_text().repeat(3);
    let pieces: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
    let (out, _) = streamed(&m, &pieces);
    assert_eq!(out, m.mask_bytes(text.as_bytes()).text.as_ref());
    for size in [2, 3, 7, 64, 500] {
        let pieces: Vec<&[u8]> = text.as_bytes().chunks(size).collect();
        assert_eq!(streamed(&m, &pieces).0, out, "chunks of {size}");
    }
}

#[test]
fn a_long_value_split_past_the_window_is_still_caught() {
    let m = default_masker();
    // A JWT far longer than the overlap window, and a quoted password that is too.
    let payload = "eyJ".to_string() + &"QUJD".repeat(600);
    let long_jwt = format!("eyJhbGciOiJIUzI1NiJ9.{payload}.c2lnbmF0dXJlc2lnbmF0dXJl");
    let long_pw = "x".repeat(3000);
    let text = format!("a {long_jwt} b \"password\": \"{long_pw}\" c");
    let bytes = text.as_bytes();
    for size in [1, 100, 1000, 4096] {
        let pieces: Vec<&[u8]> = bytes.chunks(size).collect();
        let (out, counts) = streamed(&m, &pieces);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a eyJ**** b \"password\": \"****\" c"
        );
        assert_eq!(counts.count, 2);
    }
}

#[test]
fn a_value_open_beyond_the_hold_limit_is_swallowed_not_leaked() {
    let m = default_masker();
    let token = format!("ghp_{}", "A1b2".repeat(40_000));
    let text = format!("x {token} y");
    let pieces: Vec<&[u8]> = text.as_bytes().chunks(8192).collect();
    let (out, counts) = streamed(&m, &pieces);
    assert_eq!(String::from_utf8(out).unwrap(), "x ghp_**** y");
    assert_eq!(counts.count, 1);
}

#[test]
fn a_stream_keeps_invalid_utf8_and_split_characters() {
    let m = default_masker();
    let text = "héllo wörld ✓ bob@example.com ✓ end".as_bytes().to_vec();
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(&text);
    bytes.push(0xc3);
    let whole = m.mask_bytes(&bytes).text.into_owned();
    for split in 0..=bytes.len() {
        let (out, _) = streamed(&m, &[&bytes[..split], &bytes[split..]]);
        assert_eq!(out, whole, "split at {split}");
    }
    assert!(String::from_utf8_lossy(&whole).contains("b***@example.com ✓ end"));
}

#[test]
fn json_by_key_and_by_value_at_any_depth() {
    let m = default_masker();
    let mut doc = serde_json::json!({
        "customer": {
            "email": "bob@example.com",
            "Emails": ["x@y.co"],
            "card_number": 4111111111111111u64,
            "profile": {"notes": ["call ann@x.io", {"ssn": 123456789}]},
            "api_token": "abcdef123456",
            "verified": true,
            "id": 42
        },
        "ann@x.io": "a map keyed by address"
    });
    let counts = m.mask_json(&mut doc);
    let want = serde_json::json!({
        "customer": {
            "email": "b***@example.com",
            "Emails": ["x***@y.co"],
            "card_number": "************1111",
            "profile": {"notes": ["call a***@x.io", {"ssn": "*****6789"}]},
            "api_token": "****",
            "verified": true,
            "id": 42
        },
        "a***@x.io": "a map keyed by address"
    });
    assert_eq!(doc, want);
    assert_eq!(counts.count, 7, "{counts:?}");
}

#[test]
fn json_under_a_masked_key_masks_everything_nested() {
    let m = masker_with(&config(&default_detectors(), Style::Full, &["billing*"]));
    let mut doc = serde_json::json!({"billing": {"name": "Jane", "tags": ["vip", 3], "ok": true}});
    m.mask_json(&mut doc);
    assert_eq!(
        doc,
        serde_json::json!({"billing": {"name": "[masked]", "tags": ["[masked]", "[masked]"], "ok": true}})
    );
}

#[test]
fn json_nested_deeper_than_any_stack_allows() {
    let m = default_masker();
    let mut doc = serde_json::json!("bob@example.com");
    for _ in 0..100_000 {
        doc = serde_json::Value::Array(vec![doc]);
    }
    assert_eq!(m.mask_json(&mut doc).count, 1);
    // Dropping a deep `Value` recurses in serde_json itself: unwrap it by hand.
    let mut inner = doc;
    while let serde_json::Value::Array(mut items) = inner {
        inner = items.pop().unwrap_or_default();
    }
    assert_eq!(inner, "b***@example.com");
}

#[test]
fn json_keys_that_mask_alike_keep_both_entries() {
    let m = default_masker();
    let mut doc = serde_json::json!({"bob@example.com": 1, "bill@example.com": 2});
    m.mask_json(&mut doc);
    let keys: Vec<&String> = doc.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["b***@example.com", "b***@example.com~2"]);
}

#[test]
fn registered_secrets_are_redacted_everywhere() {
    let m = masker_with(&config(&[], Style::Token, &["email"]));
    let clone = m.clone();
    assert!(m.add_secret("Lease-Pw-93xk"));
    assert!(!m.add_secret("abc"), "too short to redact safely");
    let text = "user=app password: Lease-Pw-93xk; again Lease-Pw-93xk";
    let masked = clone.mask_text(text);
    assert_eq!(
        masked.text,
        "user=app password: [redacted]; again [redacted]"
    );
    assert_eq!(masked.counts.kinds.get("secret"), Some(&2));
    assert_eq!(
        m.mask_cell(Some("email"), "Lease-Pw-93xk").text,
        "[redacted]"
    );
    let mut doc = serde_json::json!({"dsn": "postgres://app:Lease-Pw-93xk@db/x"});
    m.mask_json(&mut doc);
    assert_eq!(doc["dsn"], "postgres://app:[redacted]@db/x");
    let bytes = text.as_bytes();
    for split in 0..=bytes.len() {
        let (out, _) = streamed(&m, &[&bytes[..split], &bytes[split..]]);
        assert_eq!(out, masked.text.as_bytes(), "split at {split}");
    }
}

#[test]
fn a_text_as_long_as_the_shortest_secret_is_still_searched() {
    let m = masker_with(&config(&[], Style::Partial, &[]));
    m.add_secret("a-much-longer-secret-value");
    m.add_secret("Pw4x");
    assert_eq!(m.mask_text("Pw4x").text, "[redacted]");
    assert_eq!(m.mask_text("xPw4").text, "xPw4");
    assert_eq!(m.mask_text("Pw4").text, "Pw4");
    let column = m.column("note");
    assert_eq!(&*m.mask_value(&column, b"Pw4x").text, b"[redacted]");
}

#[test]
fn a_snapshot_redacts_the_secrets_registered_when_it_was_taken() {
    let m = masker_with(&config(&[], Style::Partial, &[]));
    m.add_secret("first-secret-1");
    let before = m.snapshot();
    m.add_secret("second-secret-2");
    let cell = b"first-secret-1 second-secret-2";
    assert_eq!(
        &*before.mask_bytes(cell).text,
        b"[redacted] second-secret-2"
    );
    assert_eq!(
        &*m.snapshot().mask_bytes(cell).text,
        b"[redacted] [redacted]"
    );
    let whole = m.column("password");
    assert_eq!(
        &*before.mask_value(&whole, b"second-secret-2").text,
        b"****"
    );
}

/// A few secrets are found by a substring search each, more by an automaton: both redact the
/// same occurrences, from the leftmost, the longest of those starting there, and apart.
#[test]
fn a_few_secrets_or_many_are_found_alike() {
    let few = masker_with(&config(&[], Style::Full, &[]));
    let many = masker_with(&config(&[], Style::Full, &[]));
    for secret in ["abab", "babc", "abcd", "abcdef"] {
        few.add_secret(secret);
        many.add_secret(secret);
    }
    for secret in ["zzzz-1", "zzzz-2", "zzzz-3"] {
        many.add_secret(secret);
    }
    let mut rng = Rng(9);
    for _ in 0..6000 {
        let text: String = (0..rng.below(32))
            .map(|_| char::from(b"ababcdef"[rng.below(8)]))
            .collect();
        assert_eq!(
            few.mask_text(&text).text,
            many.mask_text(&text).text,
            "{text}"
        );
    }
    let out = few.mask_text("xababab abcdefab abcde");
    assert_eq!(out.text, "x[redacted]ab [redacted]ab [redacted]e");
}

#[test]
fn a_secret_overlapping_a_detected_value_is_redacted_whole() {
    let m = default_masker();
    m.add_secret("hunter2hunter2");
    let out = m.mask_text("password=hunter2hunter2xyz and bob.hunter2hunter2@example.com");
    assert_eq!(out.text, "password=[redacted] and [redacted]");
    assert!(!out.text.contains("hunter2"));
}

/// xorshift64*: deterministic random input without a dependency.
pub(super) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Random bytes mixed with pieces of values the detectors look for.
pub(super) fn random_input(rng: &mut Rng) -> Vec<u8> {
    const PIECES: [&str; 16] = [
        "@",
        "bob@example.com",
        "4111 1111 1111 1111",
        "123-45-6789",
        "ssn: ",
        "eyJhbGciOiJIUzI1NiJ9.",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "password=",
        "\"",
        "ghp_",
        "sk-ant-api03-",
        "DE89",
        "Bearer ",
        "\\",
        "SeCr3t-Value-42",
    ];
    let mut out = Vec::new();
    for _ in 0..rng.below(40) {
        if rng.below(2) == 0 {
            out.extend_from_slice(PIECES[rng.below(PIECES.len())].as_bytes());
        } else {
            for _ in 0..rng.below(12) {
                out.push(rng.next() as u8);
            }
        }
    }
    out
}

#[test]
fn arbitrary_bytes_never_panic_and_never_show_a_registered_secret() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for style in [Style::Partial, Style::Full, Style::Token] {
        let m = masker_with(&config(&Kind::DETECTORS, style, &["email"]));
        m.add_secret("SeCr3t-Value-42");
        for _ in 0..1000 {
            let input = random_input(&mut rng);
            let whole = m.mask_bytes(&input).text.into_owned();
            assert!(
                validate_no_secret(&whole),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
            let text = String::from_utf8_lossy(&input);
            let _ = m.mask_cell(Some("email"), &text);
            let _ = m.mask_cell(Some("api_key"), &text);
            let split = rng.below(input.len() + 1);
            let size = 1 + rng.below(64);
            let mut pieces: Vec<&[u8]> = input[..split].chunks(size).collect();
            pieces.extend(input[split..].chunks(1 + rng.below(8)));
            let (out, _) = streamed(&m, &pieces);
            assert_eq!(out, whole, "{:?}", String::from_utf8_lossy(&input));
        }
    }
}

fn validate_no_secret(out: &[u8]) -> bool {
    !out.windows(15).any(|w| w == b"SeCr3t-Value-42")
}

#[test]
fn masking_valid_utf8_gives_valid_utf8() {
    let mut rng = Rng(7);
    let m = default_masker();
    for _ in 0..2000 {
        let text = String::from_utf8_lossy(&random_input(&mut rng)).into_owned();
        let masked = m.mask_text(&text);
        assert!(std::str::from_utf8(masked.text.as_bytes()).is_ok());
        assert!(!masked.text.contains('\u{FFFD}') || text.contains('\u{FFFD}'));
    }
}

#[test]
fn locators_agree_with_the_patterns_value_groups() {
    let samples = [
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        r#"{"AWS_KEY":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}"#,
        "aws secret: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEK+Y",
        "postgres://app:pa55word@db.internal/x https://u:p@h",
        r#"db_password = "two words" token:abcdefgh "api-key"=>'xyz' my.secret	:	v"#,
        "Authorization: Bearer abc123 and basic dXNlcjpwYXNz",
        r#"SSN: 123-45-6789, social security no "123 45 6789", ssn=123456789"#,
    ];
    let config = regex_automata::util::syntax::Config::new()
        .unicode(false)
        .utf8(false);
    let mut checked = 0;
    for rule in rules::RULES.iter().filter(|r| r.pattern.contains("(?P<v>")) {
        let re = regex_automata::meta::Builder::new()
            .syntax(config)
            .build(rule.pattern)
            .unwrap();
        for sample in samples {
            let hay = sample.as_bytes();
            for caps in re.captures_iter(hay) {
                let whole = caps.get_match().unwrap().range();
                let (key, value) = rules::locate(hay, &whole, rule.locate);
                let group = |name| caps.get_group_by_name(name).map(|s| s.range());
                assert_eq!(Some(value), group("v"), "{:?} in {sample}", rule.kind);
                assert_eq!(key, group("k"), "{:?} in {sample}", rule.kind);
                checked += 1;
            }
        }
    }
    assert!(checked >= 14, "{checked}");
}

#[test]
fn the_digit_prefilter_sees_runs_across_its_eight_byte_steps() {
    let m = default_masker();
    for pad in 0..16 {
        let lead = "x".repeat(pad);
        assert_masked(
            &m,
            &format!("{lead} 4111111111111111 y"),
            "4111111111111111",
            Kind::CreditCard,
        );
        assert_masked(&m, &format!("{lead}a 123-45-6789"), "123-45", Kind::Ssn);
        assert_masked(
            &m,
            &format!("{lead}Zz DE89370400440532013000"),
            "3704",
            Kind::Iban,
        );
    }
    assert_untouched(&m, "2026-11-27 06:15:03.123 GET /orders/2024 200 in 12ms");
}

#[test]
fn every_detector_catches_its_value_split_at_every_byte() {
    let m = masker_with(&config(&Kind::DETECTORS, Style::Partial, &[]));
    let mut samples: Vec<(String, Kind)> = TOKENS
        .iter()
        .map(|(t, k)| (format!("x {t} y"), *k))
        .collect();
    for (text, kind) in [
        ("mail bob@example.com.", Kind::Email),
        ("card 3782-822463-10005 ok", Kind::CreditCard),
        ("ssn: 123456789;", Kind::Ssn),
        ("call (415) 555-2671 now", Kind::Phone),
        ("iban GB82 WEST 1234 5698 7654 32 end", Kind::Iban),
        (&format!("t={JWT};"), Kind::Jwt),
        (&format!("k\n{PEM}\n"), Kind::PrivateKey),
        (
            "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
            Kind::AwsKey,
        ),
        ("api_key: 'abc123def456' x", Kind::GenericSecret),
        ("redis://:s3cr3tpw@cache:6379", Kind::GenericSecret),
        (
            "Authorization: Bearer abc123def456ghi789\r\n",
            Kind::GenericSecret,
        ),
    ] {
        samples.push((text.to_string(), kind));
    }
    for (text, kind) in &samples {
        let whole = m.mask_bytes(text.as_bytes());
        assert_eq!(
            whole.counts.kinds.get(kind.name()),
            Some(&1),
            "{text}: {whole:?}"
        );
        assert_split_anywhere_masks_as_whole(&m, text);
    }
}

/// `text` as a stream of two chunks, split at every byte, comes out as masking it whole does,
/// with the same counts.
pub(super) fn assert_split_anywhere_masks_as_whole(m: &Masker, text: &str) {
    let whole = m.mask_bytes(text.as_bytes());
    let bytes = text.as_bytes();
    for split in 0..=bytes.len() {
        let (out, counts) = streamed(m, &[&bytes[..split], &bytes[split..]]);
        assert_eq!(out, whole.text.as_ref(), "{text} split at {split}");
        assert_eq!(counts, whole.counts, "{text} split at {split}");
    }
}

/// A short chunk without a letter that ends inside a number is held for the next chunk, even
/// when it holds fewer digits than any enabled rule needs.
#[test]
fn a_letterless_number_split_across_short_chunks_is_masked() {
    let m = masker_with(&config(&[Kind::CreditCard, Kind::Ssn], Style::Full, &[]));
    let text = "4111 1111 1111 1111\n";
    assert_eq!(
        m.mask_bytes(text.as_bytes()).text.as_ref(),
        b"[credit_card]\n"
    );
    assert_split_anywhere_masks_as_whole(&m, text);
}

/// Each thread keeps the search caches of the maskers it used last: maskers used in turn on one
/// thread, more of them than it keeps caches for, each search with their own rules.
#[test]
fn maskers_used_in_turn_on_one_thread_keep_their_own_rules() {
    let maskers: Vec<(Masker, &str)> = (0..6)
        .map(|i| match i % 2 {
            0 => (
                masker_with(&config(&[Kind::Email], Style::Full, &[])),
                "[email] 4111 1111 1111 1111",
            ),
            _ => (
                masker_with(&config(&[Kind::CreditCard], Style::Full, &[])),
                "bob@example.com [credit_card]",
            ),
        })
        .collect();
    let text = "bob@example.com 4111 1111 1111 1111";
    for round in 0..3 {
        for (masker, expected) in &maskers {
            assert_eq!(masker.mask_text(text).text, *expected, "round {round}");
        }
        for (masker, expected) in maskers.iter().rev().step_by(2) {
            assert_eq!(masker.mask_text(text).text, *expected, "round {round}");
        }
    }
}

#[test]
fn a_masker_is_shared_across_threads() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<Masker>();
    fn send<T: Send>() {}
    send::<MaskStream>();
    let m = default_masker();
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let m = m.clone();
            std::thread::spawn(move || m.mask_text(&format!("u{i}@example.com")).counts.count)
        })
        .collect();
    m.add_secret("shared-secret-1");
    for t in threads {
        assert_eq!(t.join().unwrap(), 1);
    }
    assert_eq!(m.clone().mask_text("shared-secret-1").text, "[redacted]");
}
