//! Structure before content: the `columns` globs (ASCII case-insensitive, `*` for any run of
//! characters) that mask a column's or a JSON key's whole value, and the names that label a
//! value as a secret or an SSN without a glob (`api_token`, `ssn`).

use super::Kind;
use super::rules::SECRET_KEY_SUFFIXES;

/// The `columns` guard uses without a `[mask]` section or without a `columns` key: the SPEC's
/// example.
pub const DEFAULT_COLUMNS: [&str; 4] = ["email", "*ssn*", "card*", "password*"];

#[derive(Debug, Clone, Default)]
pub struct Columns {
    globs: Vec<Vec<u8>>,
}

impl Columns {
    pub fn new(globs: &[String]) -> Columns {
        Columns {
            globs: globs
                .iter()
                .map(|g| g.as_bytes().to_ascii_lowercase())
                .collect(),
        }
    }

    pub fn matches(&self, name: &str) -> bool {
        let name = name.as_bytes();
        self.globs.iter().any(|g| glob_match(g, name))
    }
}

/// Why a glob cannot be used, if it cannot.
pub fn check_glob(glob: &str) -> Result<(), String> {
    if glob.trim().is_empty() {
        return Err("a column glob is empty".into());
    }
    if let Some(c) = glob
        .chars()
        .find(|c| matches!(c, '?' | '[' | ']' | '{' | '}'))
    {
        return Err(format!(
            "`{glob}`: `{c}` is not supported; `*` is the only wildcard"
        ));
    }
    Ok(())
}

/// Whether `text` matches `pattern`: `*` matches any run of characters, everything else
/// itself, ASCII case-insensitively. Column names, JSON keys and environment variable names.
pub fn glob(pattern: &str, text: &str) -> bool {
    glob_match(pattern.as_bytes(), text.as_bytes())
}

/// `*` matches any run of bytes; everything else matches itself, ASCII case-insensitively.
/// Iterative with one backtrack point, so it is linear for the patterns users write.
fn glob_match(glob: &[u8], name: &[u8]) -> bool {
    let (mut g, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match glob.get(g) {
            Some(b'*') => {
                star = Some((g, n));
                g += 1;
            }
            Some(c) if c.eq_ignore_ascii_case(&name[n]) => {
                g += 1;
                n += 1;
            }
            _ => match star {
                Some((sg, sn)) => {
                    g = sg + 1;
                    n = sn + 1;
                    star = Some((sg, sn + 1));
                }
                None => return false,
            },
        }
    }
    glob[g..].iter().all(|&c| c == b'*')
}

/// What a column or key name says about its value: `api_token`, `clientSecret`, `db_password`
/// hold secrets; `ssn` and `social_security_number` hold SSNs.
pub fn label(name: &str) -> Option<Kind> {
    let name = name.as_bytes();
    let ends_with = |suffix: &str| {
        name.len() >= suffix.len()
            && name[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    if SECRET_KEY_SUFFIXES.iter().any(|s| ends_with(s)) {
        return Some(Kind::GenericSecret);
    }
    // Letters and digits only, lower-cased, so `social-security-no` and `SocialSecurity` match.
    let mut squashed = [0u8; 64];
    let mut len = 0;
    for b in name
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .take(squashed.len())
    {
        squashed[len] = b.to_ascii_lowercase();
        len += 1;
    }
    let squashed = &squashed[..len];
    let contains = |word: &[u8]| squashed.windows(word.len()).any(|w| w == word);
    (contains(b"ssn") || contains(b"socialsecurity")).then_some(Kind::Ssn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(globs: &[&str]) -> Columns {
        Columns::new(&globs.iter().map(|g| g.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn globs_match_case_insensitively_with_stars() {
        let c = columns(&DEFAULT_COLUMNS);
        for yes in [
            "email",
            "EMAIL",
            "ssn",
            "customer_ssn",
            "card_number",
            "Password_Hash",
        ] {
            assert!(c.matches(yes), "{yes}");
        }
        for no in ["emails", "id", "name", "discard", "pass"] {
            assert!(!c.matches(no), "{no}");
        }
        assert!(columns(&["*"]).matches("anything"));
        assert!(columns(&["a*b*c"]).matches("axxbyyc"));
        assert!(!columns(&["a*b*c"]).matches("axxbyy"));
        assert!(!columns(&[]).matches("email"));
    }

    #[test]
    fn bad_globs_are_refused() {
        assert!(check_glob("").is_err());
        assert!(check_glob("e?ail").unwrap_err().contains("only wildcard"));
        assert!(check_glob("*_email").is_ok());
    }

    #[test]
    fn names_label_secrets_and_ssns() {
        assert_eq!(label("api_token"), Some(Kind::GenericSecret));
        assert_eq!(label("clientSecret"), Some(Kind::GenericSecret));
        assert_eq!(label("X-Api-Key"), Some(Kind::GenericSecret));
        assert_eq!(label("social_security_number"), Some(Kind::Ssn));
        assert_eq!(label("token_count"), None);
        assert_eq!(label("name"), None);
    }
}
