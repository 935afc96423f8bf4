//! What a masked value becomes, per style: `partial` keeps a hint (`a***@example.com`,
//! `**** **** **** 1111`, `ghp_****`), `full` a placeholder naming the kind (`[email]`), `token`
//! a keyed digest (`email_3f9a2c1b04d5`) that is the same for the same value within a session,
//! so the agent can still join and group on it, and different across sessions.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::engine::find_bytes;
use super::{Kind, Style};

/// What every registered credential becomes, whatever the style.
pub const REDACTED: &[u8] = b"[redacted]";

/// Hex digits of the token: 48 bits, so a session would need millions of distinct values
/// before two of them shared a token and a join went wrong.
const TOKEN_HEX: usize = 12;

pub fn replacement(style: Style, mac: &Hmac<Sha256>, kind: Kind, value: &[u8], out: &mut Vec<u8>) {
    if kind == Kind::Secret {
        out.extend_from_slice(REDACTED);
        return;
    }
    match style {
        Style::Partial => partial(kind, value, out),
        Style::Full => {
            out.push(b'[');
            out.extend_from_slice(kind.label().as_bytes());
            out.push(b']');
        }
        Style::Token => token(mac, kind, value, out),
    }
}

fn token(mac: &Hmac<Sha256>, kind: Kind, value: &[u8], out: &mut Vec<u8>) {
    let mut mac = mac.clone();
    mac.update(&normalize(kind, value));
    let digest = mac.finalize().into_bytes();
    out.extend_from_slice(kind.label().as_bytes());
    out.push(b'_');
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in digest.iter().take(TOKEN_HEX / 2) {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
}

/// The same value written differently gets the same token: `4111 1111 1111 1111` and
/// `4111111111111111`, `Bob@Example.com` and `bob@example.com`.
fn normalize(kind: Kind, value: &[u8]) -> Vec<u8> {
    match kind {
        Kind::CreditCard | Kind::Ssn | Kind::Phone => {
            value.iter().copied().filter(u8::is_ascii_digit).collect()
        }
        Kind::Iban => value
            .iter()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(u8::to_ascii_uppercase)
            .collect(),
        Kind::Email => value.to_ascii_lowercase(),
        _ => value.to_vec(),
    }
}

fn partial(kind: Kind, value: &[u8], out: &mut Vec<u8>) {
    match kind {
        Kind::Email => match value.iter().rposition(|&b| b == b'@') {
            Some(at) if at > 0 => {
                out.push(value[0]);
                out.extend_from_slice(b"***");
                out.extend_from_slice(&value[at..]);
            }
            _ => out.extend_from_slice(b"****"),
        },
        Kind::CreditCard | Kind::Phone | Kind::Ssn => keep_last(value, 4, u8::is_ascii_digit, out),
        Kind::Iban => {
            let mut iban = Vec::with_capacity(value.len());
            keep_last(value, 4, u8::is_ascii_alphanumeric, &mut iban);
            let country = value
                .iter()
                .take(2)
                .filter(|b| b.is_ascii_uppercase())
                .count();
            iban[..country].copy_from_slice(&value[..country]);
            out.extend_from_slice(&iban);
        }
        Kind::PrivateKey => {
            let header_end =
                find_bytes(value.get(5..).unwrap_or_default(), b"-----").map_or(0, |i| i + 10);
            out.extend_from_slice(&value[..header_end.min(value.len())]);
            out.extend_from_slice(b"****");
            if let Some(footer) = value.windows(8).rposition(|w| w == b"-----END") {
                out.extend_from_slice(&value[footer..]);
            }
        }
        _ => {
            out.extend_from_slice(&value[..token_prefix(kind, value)]);
            out.extend_from_slice(b"****");
        }
    }
}

/// Replaces the characters that `keep` selects with `*`, except the last `n` of them;
/// separators stay, so `4111-1111-1111-1111` becomes `****-****-****-1111`.
fn keep_last(value: &[u8], n: usize, counted: fn(&u8) -> bool, out: &mut Vec<u8>) {
    let total = value.iter().filter(|b| counted(b)).count();
    let mut seen = 0;
    for b in value {
        if counted(b) {
            seen += 1;
            out.push(if seen + n > total { *b } else { b'*' });
        } else {
            out.push(*b);
        }
    }
}

/// The public prefix a token keeps in `partial` style: it names the issuer, not the secret.
fn token_prefix(kind: Kind, value: &[u8]) -> usize {
    let upto = |sep: u8, nth: usize| {
        value
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == sep)
            .nth(nth)
            .map_or(0, |(i, _)| i + 1)
    };
    let prefix = match kind {
        Kind::GithubToken if value.starts_with(b"github_pat_") => 11,
        Kind::GithubToken => 4,
        Kind::GitlabToken | Kind::SlackToken => upto(b'-', 0),
        Kind::StripeKey => upto(b'_', 1),
        Kind::AnthropicKey => 7,
        Kind::OpenaiKey => {
            let named = [&b"sk-proj-"[..], b"sk-svcacct-", b"sk-admin-"];
            named
                .iter()
                .find(|p| value.starts_with(p))
                .map_or(3, |p| p.len())
        }
        Kind::AwsKey if value.len() == 20 => 4,
        Kind::Jwt => 3,
        _ => 0,
    };
    prefix.min(value.len() / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(key: &[u8]) -> Hmac<Sha256> {
        <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).unwrap()
    }

    fn render(style: Style, kind: Kind, value: &str) -> String {
        let mut out = Vec::new();
        replacement(style, &mac(b"k"), kind, value.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn partial_keeps_a_hint() {
        let p = |kind, v| render(Style::Partial, kind, v);
        assert_eq!(p(Kind::Email, "alice@example.com"), "a***@example.com");
        assert_eq!(
            p(Kind::CreditCard, "4111 1111 1111 1111"),
            "**** **** **** 1111"
        );
        assert_eq!(p(Kind::CreditCard, "4111111111111111"), "************1111");
        assert_eq!(p(Kind::Ssn, "123-45-6789"), "***-**-6789");
        assert_eq!(
            p(Kind::Iban, "DE89 3704 0044 0532 0130 00"),
            "DE** **** **** **** **30 00"
        );
        assert_eq!(
            p(
                Kind::GithubToken,
                "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
            ),
            "ghp_****"
        );
        assert_eq!(p(Kind::StripeKey, "sk_live_abcdefghij12"), "sk_live_****");
        assert_eq!(p(Kind::SlackToken, "xoxb-1234-abcdefghij"), "xoxb-****");
        assert_eq!(
            p(Kind::OpenaiKey, "sk-proj-Abc123Abc123Abc123Abc123"),
            "sk-proj-****"
        );
        assert_eq!(p(Kind::AwsKey, "AKIAIOSFODNN7EXAMPLE"), "AKIA****");
        assert_eq!(p(Kind::GenericSecret, "hunter2"), "****");
        assert_eq!(p(Kind::Secret, "anything"), "[redacted]");
        let key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            p(Kind::PrivateKey, key),
            "-----BEGIN RSA PRIVATE KEY-----****-----END RSA PRIVATE KEY-----"
        );
    }

    #[test]
    fn full_names_the_kind() {
        assert_eq!(render(Style::Full, Kind::Email, "a@b.co"), "[email]");
        assert_eq!(render(Style::Full, Kind::GenericSecret, "x"), "[secret]");
        assert_eq!(render(Style::Full, Kind::Column, "x"), "[masked]");
    }

    #[test]
    fn tokens_are_keyed_and_normalized() {
        let t = |key: &[u8], kind, v: &str| {
            let mut out = Vec::new();
            replacement(Style::Token, &mac(key), kind, v.as_bytes(), &mut out);
            String::from_utf8(out).unwrap()
        };
        let a = t(b"one", Kind::Email, "Bob@Example.com");
        assert!(a.starts_with("email_") && a.len() == 6 + TOKEN_HEX, "{a}");
        assert_eq!(a, t(b"one", Kind::Email, "bob@example.com"));
        assert_ne!(a, t(b"two", Kind::Email, "bob@example.com"));
        assert_eq!(
            t(b"one", Kind::CreditCard, "4111 1111 1111 1111"),
            t(b"one", Kind::CreditCard, "4111111111111111")
        );
    }
}
