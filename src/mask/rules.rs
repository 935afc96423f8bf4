//! The detector table: one regex per rule (all compiled together into one multi-pattern
//! engine), the keywords that must occur for it to be worth running, how a match is extended
//! to the end of its value, and the validator that confirms it.
//!
//! Token prefixes and keywords follow gitleaks' rule set (MIT, Copyright (c) 2019 Zachary
//! Rice; see NOTICE); the regexes here are rewritten for this engine. Nothing is taken from
//! AGPL detector sets.
//!
//! Every regex is bounded in length (the stream's overlap window is derived from the longest
//! one): a value that may be long (a token, a quoted password, a key block) is matched by its
//! first characters and then extended in code by `Extend`.

use std::ops::Range;

use super::Kind;
use super::validate;

/// What the engine found before validation.
pub struct Candidate {
    /// The whole regex match.
    pub whole: Range<usize>,
    /// The part to mask: the `v` group (or the whole match), extended per the rule.
    pub value: Range<usize>,
    /// The `k` group: the key of a `key = value` assignment.
    pub key: Option<Range<usize>>,
}

/// How a match grows past what the regex saw.
#[derive(Clone, Copy)]
pub enum Extend {
    None,
    /// While bytes are in the token's alphabet.
    While(fn(u8) -> bool),
    /// A quoted value to its closing quote, or an unquoted one to the next delimiter.
    Value,
    /// A PEM block to the end of its `-----END ...-----` line.
    Pem,
}

/// Where the value sits in a match. The `v` and `k` groups in the patterns say the same (a
/// test holds them to it), but resolving groups costs a second search per match, and the
/// shapes are simple enough to read off the match itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Locate {
    /// The whole match.
    Whole,
    /// The last `n` bytes (the first characters of a value that `Extend` completes).
    Tail(usize),
    /// `key <sep> value`: the key is the identifier the match starts with, the value its last
    /// byte, or its last two when the value opens with a quote.
    Assignment,
    /// The trailing nine digits (with their separators) of a labelled SSN.
    SsnTail,
    /// The 40 characters of an AWS secret key, before the byte that ends it (if any).
    AwsSecret,
}

/// The numbers that make a numeric rule worth running: a digit run long enough to hold one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numeric {
    None,
    /// 13 digits, with single spaces or dashes between groups.
    Card,
    /// 9 digits with dashes (a timestamp's `2026-11-27` has 8).
    DashedSsn,
    /// 8 digits, with the punctuation phone numbers are written with.
    Phone,
    /// Two capitals and two digits, as every IBAN starts.
    Iban,
}

pub struct Rule {
    pub kind: Kind,
    pub pattern: &'static str,
    /// Every match contains one of these (ASCII case-insensitively)...
    pub keywords: &'static [&'static str],
    /// ...or the digits it needs. The regex runs only near them, so a match without one would
    /// go unmasked: `prefilter_tests` holds every rule to this on random matches of its pattern.
    pub numeric: Numeric,
    pub locate: Locate,
    pub extend: Extend,
    /// Confirms a candidate; returns the span to mask.
    pub check: fn(&[u8], &Candidate) -> Option<Range<usize>>,
}

/// The key and value spans of a match, per `how`.
pub fn locate(
    hay: &[u8],
    whole: &Range<usize>,
    how: Locate,
) -> (Option<Range<usize>>, Range<usize>) {
    let (start, end) = (whole.start, whole.end);
    let tail = |n: usize| end.saturating_sub(n).max(start)..end;
    match how {
        Locate::Whole => (None, whole.clone()),
        Locate::Tail(n) => (None, tail(n)),
        Locate::Assignment => {
            let key_len = hay[start..end]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || b"_.-".contains(b))
                .count();
            let quoted = end >= start + key_len + 2 && matches!(hay[end - 2], b'"' | b'\'');
            (
                Some(start..start + key_len),
                tail(if quoted { 2 } else { 1 }),
            )
        }
        Locate::SsnTail => {
            let mut at = end;
            let mut digits = 0;
            while at > start && digits < 9 {
                at -= 1;
                digits += usize::from(hay[at].is_ascii_digit());
            }
            (None, at..end)
        }
        Locate::AwsSecret => {
            let ended = hay
                .get(end - 1)
                .is_some_and(|&b| !(b.is_ascii_alphanumeric() || b"/+".contains(&b)));
            let value_end = if ended { end - 1 } else { end };
            (None, value_end.saturating_sub(40).max(start)..value_end)
        }
    }
}

fn accept(_: &[u8], c: &Candidate) -> Option<Range<usize>> {
    Some(c.value.clone())
}

fn alnum(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

fn alnum_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn alnum_dash_underscore(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn alnum_dash(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

fn jwt_char(b: u8) -> bool {
    alnum_dash_underscore(b) || b == b'.'
}

/// RFC 6750 token68, as after `Bearer`.
fn token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)
}

fn base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+/=".contains(&b)
}

/// An unquoted value ends at whitespace, a quote or a delimiter of the surrounding syntax
/// (JSON, URL query, shell, XML).
pub fn value_char(b: u8) -> bool {
    !b.is_ascii_whitespace() && !b"\"'`,;&<>".contains(&b)
}

fn url_password_char(b: u8) -> bool {
    !b.is_ascii_whitespace() && !b"@/\"'<>".contains(&b)
}

fn check_card(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    validate::card(&hay[c.value.clone()]).then(|| c.value.clone())
}

fn check_ssn(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    validate::ssn(&hay[c.value.clone()]).then(|| c.value.clone())
}

fn check_iban(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    validate::iban(&hay[c.value.clone()]).then(|| c.value.clone())
}

/// A sentence may end right after a token: its full stop is not a fourth segment.
fn check_jwt(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    let mut end = c.value.end;
    while end > c.value.start && hay[end - 1] == b'.' {
        end -= 1;
    }
    validate::jwt(&hay[c.value.start..end]).then_some(c.value.start..end)
}

fn check_openai(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    let v = &hay[c.value.clone()];
    (v.len() >= 23 && validate::looks_random(&v[3..])).then(|| c.value.clone())
}

fn check_basic(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    validate::basic_credentials(&hay[c.value.clone()]).then(|| c.value.clone())
}

fn check_bearer(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    let v = &hay[c.value.clone()];
    (v.len() >= 16 && v.iter().any(|b| b.is_ascii_digit())).then(|| c.value.clone())
}

/// AWS secret keys are exactly 40 characters of base64.
fn check_aws_secret(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    (validate::looks_random(&hay[c.value.clone()])).then(|| c.value.clone())
}

/// `scheme://user:password@host`: the password must be followed by the `@`.
fn check_url_password(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    (hay.get(c.value.end) == Some(&b'@')).then(|| c.value.clone())
}

/// Domains that are file names (`icon@2x.png`) are not addresses.
fn check_email(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    let v = &hay[c.value.clone()];
    let tld_start = v.iter().rposition(|&b| b == b'.').map_or(0, |i| i + 1);
    let tld = &v[tld_start..];
    const FILES: [&[u8]; 12] = [
        b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"js", b"css", b"map", b"ts", b"json",
        b"html",
    ];
    (!FILES.iter().any(|f| tld.eq_ignore_ascii_case(f))).then(|| c.value.clone())
}

fn check_assignment(hay: &[u8], c: &Candidate) -> Option<Range<usize>> {
    let key = c.key.clone().map(|k| &hay[k]).unwrap_or_default();
    secret_value(password_key(key), &hay[c.value.clone()]).then(|| c.value.clone())
}

/// Whether a key names a password (`db_password`, `passwd`, `passphrase`).
pub fn password_key(key: &[u8]) -> bool {
    ["password", "passwd", "passphrase"].iter().any(|p| {
        key.len() >= p.len() && key[key.len() - p.len()..].eq_ignore_ascii_case(p.as_bytes())
    })
}

/// Whether `value`, found under a secret's key (`password = value`, a JSON key, a column
/// name), is worth masking as a secret: any value counts for a password; other keys (token,
/// secret, api_key) need 8 characters that are not all digits, so `token_count: 42` and
/// `token_type: bearer` stay readable. Placeholders and values already masked are left alone.
pub fn secret_value(is_password: bool, value: &[u8]) -> bool {
    let placeholder = value.iter().all(|&b| b == b'*')
        || (value.first() == Some(&b'[') && value.last() == Some(&b']'))
        || ["null", "none", "nil", "true", "false", "undefined"]
            .iter()
            .any(|w| value.eq_ignore_ascii_case(w.as_bytes()));
    let long_enough = is_password
        || (value.len() >= 8 && !value.iter().all(|b| b.is_ascii_digit() || *b == b'.'));
    !value.is_empty() && !placeholder && long_enough
}

/// Secret-looking key names, shared by the assignment regex and by JSON keys and column names
/// (`columns::label`). Ordered longest first where one ends another.
pub const SECRET_KEY_SUFFIXES: [&str; 14] = [
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "secret_key",
    "private_key",
    "signing_key",
    "encryption_key",
    "credentials",
];

/// The rules in priority order: where two start at the same byte, the earlier one wins
/// (specific prefixes before generic shapes, validated numbers last).
pub static RULES: &[Rule] = &[
    Rule {
        kind: Kind::PrivateKey,
        pattern: r"-----BEGIN (?:[A-Z0-9]{1,16} ){0,3}PRIVATE KEY(?: BLOCK)?-----",
        keywords: &["-----BEGIN"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::Pem,
        check: accept,
    },
    Rule {
        kind: Kind::Jwt,
        pattern: r"\beyJ[A-Za-z0-9_-]{8}",
        keywords: &["eyJ"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::While(jwt_char),
        check: check_jwt,
    },
    Rule {
        kind: Kind::GithubToken,
        pattern: r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})",
        keywords: &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::While(alnum_underscore),
        check: accept,
    },
    Rule {
        kind: Kind::GitlabToken,
        pattern: r"\bglpat-[A-Za-z0-9_-]{20}",
        keywords: &["glpat-"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::While(alnum_dash_underscore),
        check: accept,
    },
    Rule {
        kind: Kind::SlackToken,
        pattern: r"\bxox[abprs]-[A-Za-z0-9-]{10}",
        keywords: &["xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::While(alnum_dash),
        check: accept,
    },
    Rule {
        kind: Kind::StripeKey,
        pattern: r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{10}",
        keywords: &["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::While(alnum),
        check: accept,
    },
    Rule {
        kind: Kind::AnthropicKey,
        pattern: r"\bsk-ant-[a-z0-9]{2,10}-[A-Za-z0-9_-]{20}",
        keywords: &["sk-ant-"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::While(alnum_dash_underscore),
        check: accept,
    },
    Rule {
        kind: Kind::OpenaiKey,
        pattern: r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20}",
        keywords: &["sk-"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::While(alnum_dash_underscore),
        check: check_openai,
    },
    Rule {
        kind: Kind::AwsKey,
        pattern: r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b",
        keywords: &["AKIA", "ASIA", "ABIA", "ACCA"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::None,
        check: accept,
    },
    Rule {
        kind: Kind::AwsKey,
        pattern: r#"(?i:aws[a-z0-9_ .-]{0,24}(?:secret|key)[a-z0-9_ .-]{0,24})["']?[ \t]{0,4}(?:=|:|=>)[ \t]{0,4}["']?(?P<v>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
        keywords: &["aws"],
        numeric: Numeric::None,
        locate: Locate::AwsSecret,
        extend: Extend::None,
        check: check_aws_secret,
    },
    Rule {
        kind: Kind::GenericSecret,
        pattern: r#"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s:/@"'<>]{0,64}:(?P<v>[^\s@/"'<>])"#,
        keywords: &["://"],
        numeric: Numeric::None,
        locate: Locate::Tail(1),
        extend: Extend::While(url_password_char),
        check: check_url_password,
    },
    Rule {
        kind: Kind::GenericSecret,
        pattern: r#"(?i)\b(?P<k>[a-z0-9_.-]{0,32}?(?:password|passwd|passphrase|secret|token|api[_-]?key|apikey|(?:access|secret|private|signing|encryption)[_-]?key|credentials))["']?[ \t]{0,8}(?:=|:|=>)[ \t]{0,8}(?P<v>["']?[^\s"',;&<>`])"#,
        keywords: &[
            "password",
            "passwd",
            "passphrase",
            "secret",
            "token",
            "apikey",
            "api_key",
            "api-key",
            "access_key",
            "access-key",
            "accesskey",
            "private_key",
            "private-key",
            "privatekey",
            "signing",
            "encryption",
            "credentials",
        ],
        numeric: Numeric::None,
        locate: Locate::Assignment,
        extend: Extend::Value,
        check: check_assignment,
    },
    Rule {
        kind: Kind::GenericSecret,
        pattern: r"(?i:\bbearer)[ \t]{1,4}(?P<v>[A-Za-z0-9._~+/-])",
        keywords: &["bearer"],
        numeric: Numeric::None,
        locate: Locate::Tail(1),
        extend: Extend::While(token68),
        check: check_bearer,
    },
    Rule {
        kind: Kind::GenericSecret,
        pattern: r"(?i:\bbasic)[ \t]{1,4}(?P<v>[A-Za-z0-9+/]{6})",
        keywords: &["basic"],
        numeric: Numeric::None,
        locate: Locate::Tail(6),
        extend: Extend::While(base64_char),
        check: check_basic,
    },
    Rule {
        kind: Kind::Email,
        pattern: r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,4}\.[A-Za-z]{2,24}\b",
        keywords: &["@"],
        numeric: Numeric::None,
        locate: Locate::Whole,
        extend: Extend::None,
        check: check_email,
    },
    Rule {
        kind: Kind::Iban,
        pattern: r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b",
        keywords: &[],
        numeric: Numeric::Iban,
        locate: Locate::Whole,
        extend: Extend::None,
        check: check_iban,
    },
    Rule {
        // Nine digits without dashes only with a label: most 9-digit numbers are not SSNs.
        kind: Kind::Ssn,
        pattern: r#"(?i:\b(?:ssn|social[ _-]?security(?:[ _-]?(?:number|no))?))["']?[ \t]{0,4}(?:[:=#]|is)?[ \t]{0,4}["']?(?P<v>[0-9]{9}|[0-9]{3}[ -][0-9]{2}[ -][0-9]{4})\b"#,
        keywords: &["ssn", "social"],
        numeric: Numeric::None,
        locate: Locate::SsnTail,
        extend: Extend::None,
        check: check_ssn,
    },
    Rule {
        kind: Kind::Ssn,
        pattern: r"\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b",
        keywords: &[],
        numeric: Numeric::DashedSsn,
        locate: Locate::Whole,
        extend: Extend::None,
        check: check_ssn,
    },
    Rule {
        kind: Kind::CreditCard,
        pattern: r"\b(?:[0-9]{13,19}|[0-9]{4}[ -][0-9]{4}[ -][0-9]{4}[ -][0-9]{1,4}(?:[ -][0-9]{1,3})?|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})\b",
        keywords: &[],
        numeric: Numeric::Card,
        locate: Locate::Whole,
        extend: Extend::None,
        check: check_card,
    },
    Rule {
        kind: Kind::Phone,
        pattern: r"\+[1-9][0-9]{7,14}\b|(?:\+1[ .-]?)?(?:\([2-9][0-9]{2}\)[ ]?|\b[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}\b",
        keywords: &[],
        numeric: Numeric::Phone,
        locate: Locate::Whole,
        extend: Extend::None,
        check: accept,
    },
];
