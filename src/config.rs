//! guard.toml: where it is looked up, its types, and validation that names the file, line and key
//! of anything wrong. The rest of guard sees only the validated `Config`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::mask::{Kind, MaskConfig, Style};

/// A configuration problem, located in its file.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    Postgres,
    Http,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyFull,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerKind {
    Openbao,
    Vault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum EgressMode {
    Off,
    Log,
    #[default]
    Ask,
    Enforce,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Allow,
    Ask,
    Deny,
}

/// Where a target's real credential comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Leased from the broker at this path; `field` picks a KV v2 field.
    Broker { path: String, field: Option<String> },
    /// A username and a password read from guard's own environment.
    StaticPassword {
        username: String,
        password_env: String,
    },
    /// A value (token) read from guard's own environment.
    StaticValue { value_env: String },
}

#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub kind: TargetKind,
    pub upstream: String,
    pub database: Option<String>,
    pub tls: TlsMode,
    pub credentials: Option<Credentials>,
    pub inject: Option<Inject>,
    /// The child's variable that receives this target's loopback address.
    pub env: String,
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    pub header: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Broker {
    pub kind: BrokerKind,
    pub address: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Egress {
    #[serde(default)]
    pub mode: EgressMode,
    /// `None` (absent): guard's default list of model APIs; `Some([])` allows nothing.
    #[serde(default)]
    pub allow: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvRules {
    #[serde(default)]
    pub keep: Vec<String>,
    #[serde(default)]
    pub drop: Vec<String>,
}

/// The `[mask]` section as written; validated into a `MaskConfig`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMask {
    columns: Option<Vec<Spanned<String>>>,
    detectors: Option<Spanned<toml::Value>>,
    style: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub target: Option<String>,
    #[serde(default)]
    pub class: Vec<String>,
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    pub action: Action,
}

/// The validated configuration.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The file it came from; `None` when guard runs without one.
    pub source: Option<PathBuf>,
    /// SHA-256 of the file's bytes (of nothing, without a file), for `session_start`.
    pub sha256: String,
    pub broker: Option<Broker>,
    pub targets: Vec<Target>,
    pub egress: Egress,
    pub env: EnvRules,
    /// What to mask; the defaults (`MaskConfig::default`) without a `[mask]` section.
    pub mask: MaskConfig,
    pub rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    broker: Option<Broker>,
    #[serde(default, rename = "target")]
    targets: Vec<Spanned<RawTarget>>,
    egress: Option<Egress>,
    env: Option<EnvRules>,
    mask: Option<RawMask>,
    #[serde(default, rename = "rule")]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: Spanned<String>,
    kind: TargetKind,
    upstream: Spanned<String>,
    database: Option<String>,
    tls: Option<TlsMode>,
    credentials: Option<Spanned<RawCredentials>>,
    inject: Option<Inject>,
    env: Option<Spanned<String>>,
    listen: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredentials {
    broker: Option<String>,
    field: Option<String>,
    username: Option<String>,
    password_env: Option<String>,
    value_env: Option<String>,
}

/// Finds the configuration file: `--config`, `GUARD_CONFIG`, `./guard.toml`, then
/// `$XDG_CONFIG_HOME/guard/config.toml` (`~/.config` when unset). `None`: run without one.
pub fn locate(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("GUARD_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let local = PathBuf::from("guard.toml");
    if local.is_file() {
        return Some(local);
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    let user = base.join("guard").join("config.toml");
    user.is_file().then_some(user)
}

/// Loads and validates the configuration `locate` finds; no file gives the empty configuration.
pub fn load(explicit: Option<&Path>) -> Result<Config, ConfigError> {
    let Some(path) = locate(explicit) else {
        return Ok(Config {
            sha256: crate::record::sha256_hex(b""),
            ..Config::default()
        });
    };
    let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
        path: path.clone(),
        line: None,
        message: format!("cannot read the configuration: {e}"),
    })?;
    let mut config = parse(&text, &path)?;
    config.source = Some(path);
    Ok(config)
}

/// Parses and validates configuration text; `path` only labels errors.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let at = |span: Option<std::ops::Range<usize>>, message: String| ConfigError {
        path: path.to_path_buf(),
        line: span.map(|s| line_of(text, s.start)),
        message,
    };
    let raw: RawConfig = toml::from_str(text).map_err(|e| at(e.span(), e.message().to_string()))?;
    let mut targets: Vec<Target> = Vec::new();
    for spanned in raw.targets {
        let span = spanned.span();
        let target = validate_target(spanned.into_inner(), &at, span)?;
        if targets.iter().any(|t| t.name == target.name) {
            return Err(at(None, format!("duplicate target name `{}`", target.name)));
        }
        if let Some(other) = targets.iter().find(|t| t.env == target.env) {
            return Err(at(
                None,
                format!(
                    "targets `{}` and `{}` both set `{}`",
                    other.name, target.name, target.env
                ),
            ));
        }
        targets.push(target);
    }
    for rule in &raw.rules {
        if let Some(name) = &rule.target
            && !targets.iter().any(|t| &t.name == name)
        {
            return Err(at(
                None,
                format!("a [[rule]] names target `{name}`, which is not defined"),
            ));
        }
    }
    Ok(Config {
        source: None,
        sha256: crate::record::sha256_hex(text.as_bytes()),
        broker: raw.broker,
        targets,
        egress: raw.egress.unwrap_or_default(),
        env: raw.env.unwrap_or_default(),
        mask: match raw.mask {
            Some(mask) => validate_mask(mask, &at)?,
            None => MaskConfig::default(),
        },
        rules: raw.rules,
    })
}

type At<'a> = dyn Fn(Option<std::ops::Range<usize>>, String) -> ConfigError + 'a;

fn validate_target(
    raw: RawTarget,
    at: &At,
    span: std::ops::Range<usize>,
) -> Result<Target, ConfigError> {
    let name = raw.name.get_ref().clone();
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid {
        return Err(at(
            Some(raw.name.span()),
            format!("key `name`: `{name}` must be lowercase letters, digits, `_` or `-`"),
        ));
    }
    let upper = name.to_ascii_uppercase().replace('-', "_");
    let default_env = match raw.kind {
        TargetKind::Postgres => format!("{upper}_DATABASE_URL"),
        TargetKind::Http => format!("{upper}_URL"),
    };
    let env = match raw.env {
        Some(env) if !is_env_name(env.get_ref()) => {
            return Err(at(
                Some(env.span()),
                format!("key `env`: `{}` is not a variable name", env.get_ref()),
            ));
        }
        Some(env) => env.into_inner(),
        // `9shop` would give `9SHOP_DATABASE_URL`, which no shell can expand.
        None if !is_env_name(&default_env) => {
            return Err(at(
                Some(raw.name.span()),
                format!(
                    "key `name`: `{name}` gives the variable `{default_env}`, which is not a \
                     variable name; start the name with a letter or set `env`"
                ),
            ));
        }
        None => default_env,
    };
    let listen = match raw.listen {
        Some(listen) => parse_listen(listen.get_ref()).map_err(|m| at(Some(listen.span()), m))?,
        None => SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    if raw.upstream.get_ref().trim().is_empty() {
        return Err(at(
            Some(raw.upstream.span()),
            "key `upstream` is empty".into(),
        ));
    }
    let credentials = match raw.credentials {
        Some(c) => {
            let span = c.span();
            Some(validate_credentials(c.into_inner(), raw.kind).map_err(|m| at(Some(span), m))?)
        }
        None => None,
    };
    if raw.kind == TargetKind::Postgres && raw.inject.is_some() {
        return Err(at(
            Some(span),
            format!("target `{name}`: `inject` is for http targets"),
        ));
    }
    Ok(Target {
        name,
        kind: raw.kind,
        upstream: raw.upstream.into_inner(),
        database: raw.database,
        tls: raw.tls.unwrap_or(TlsMode::Prefer),
        credentials,
        inject: raw.inject,
        env,
        listen,
    })
}

fn validate_credentials(raw: RawCredentials, kind: TargetKind) -> Result<Credentials, String> {
    match (raw.broker, raw.username, raw.password_env, raw.value_env) {
        (Some(path), None, None, None) => Ok(Credentials::Broker {
            path: path.trim_matches('/').to_string(),
            field: raw.field,
        }),
        (None, Some(username), Some(password_env), None) if raw.field.is_none() => {
            Ok(Credentials::StaticPassword {
                username,
                password_env,
            })
        }
        (None, None, None, Some(value_env)) if kind == TargetKind::Http && raw.field.is_none() => {
            Ok(Credentials::StaticValue { value_env })
        }
        _ => Err(match kind {
            TargetKind::Postgres => "key `credentials`: use { broker = \"<mount>/creds/<role>\" } \
                                     or { username = \"...\", password_env = \"VAR\" }"
                .into(),
            TargetKind::Http => {
                "key `credentials`: use { broker = \"secret/data/x\", field = \"f\" } \
                                 or { value_env = \"VAR\" }"
                    .into()
            }
        }),
    }
}

/// `[mask]`: keys left out keep their defaults; `columns = []` masks no column by name.
fn validate_mask(raw: RawMask, at: &At) -> Result<MaskConfig, ConfigError> {
    let mut mask = MaskConfig::default();
    if let Some(columns) = raw.columns {
        mask.columns = Vec::with_capacity(columns.len());
        for glob in columns {
            crate::mask::check_glob(glob.get_ref())
                .map_err(|m| at(Some(glob.span()), format!("[mask] key `columns`: {m}")))?;
            mask.columns.push(glob.into_inner());
        }
    }
    if let Some(detectors) = raw.detectors {
        let span = detectors.span();
        mask.detectors = detector_list(detectors.into_inner())
            .map_err(|m| at(Some(span), format!("[mask] key `detectors`: {m}")))?;
    }
    if let Some(style) = raw.style {
        mask.style = Style::from_name(style.get_ref()).ok_or_else(|| {
            at(
                Some(style.span()),
                format!(
                    "[mask] key `style`: `{}` is not one of {}",
                    style.get_ref(),
                    Style::NAMES.join(", ")
                ),
            )
        })?;
    }
    Ok(mask)
}

/// `"default"`, one detector's name, or a list of names (where `default` is the default set).
fn detector_list(value: toml::Value) -> Result<Vec<Kind>, String> {
    match value {
        toml::Value::String(name) => crate::mask::detectors_from_names([name.as_str()]),
        toml::Value::Array(items) => {
            let names = items
                .iter()
                .map(|item| {
                    item.as_str()
                        .ok_or("a list of detector names holds a non-string")
                })
                .collect::<Result<Vec<&str>, &str>>()?;
            crate::mask::detectors_from_names(names)
        }
        _ => Err("write \"default\" or a list of detector names".into()),
    }
}

/// Listeners are loopback only: the session secret is the only thing guarding them.
fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| format!("key `listen`: `{text}` is not an address like 127.0.0.1:0"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("key `listen`: `{text}` is not a loopback address"));
    }
    Ok(addr)
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Config, ConfigError> {
        parse(text, Path::new("guard.toml"))
    }

    #[test]
    fn the_spec_example_parses() {
        let text = r#"
[broker]
kind = "openbao"
address = "http://127.0.0.1:8200"

[[target]]
name = "shop"
kind = "postgres"
upstream = "db.internal:5432"
database = "shop"
tls = "prefer"
credentials = { broker = "database/creds/agent-ro" }

[[target]]
name = "billing"
kind = "http"
upstream = "https://billing.internal"
credentials = { broker = "secret/data/billing", field = "token" }
inject = { header = "Authorization", value = "Bearer {secret}" }
env = "BILLING_URL"

[egress]
mode = "ask"
allow = ["api.anthropic.com", "*.npmjs.org"]

[env]
keep = ["MY_AGENT_KEY"]
drop = ["INTERNAL_*"]

[mask]
columns = ["email", "*ssn*"]
detectors = "default"
style = "partial"

[[rule]]
target = "shop"
class = ["write"]
match = "(?i)\\bcustomers\\b"
action = "ask"
"#;
        let config = parse_str(text).unwrap();
        assert_eq!(config.targets.len(), 2);
        assert_eq!(config.targets[0].env, "SHOP_DATABASE_URL");
        assert_eq!(config.targets[0].listen.to_string(), "127.0.0.1:0");
        assert_eq!(config.targets[1].env, "BILLING_URL");
        assert_eq!(config.env.keep, ["MY_AGENT_KEY"]);
        assert_eq!(config.mask.columns, ["email", "*ssn*"]);
        assert_eq!(config.mask.style, Style::Partial);
        assert_eq!(config.mask.detectors, crate::mask::default_detectors());
    }

    #[test]
    fn an_unknown_key_names_line_and_key() {
        let err = parse_str("[egress]\nmode = \"ask\"\nallowed = []\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("allowed"), "{}", err.message);
        assert!(err.to_string().starts_with("guard.toml:3:"), "{err}");
    }

    #[test]
    fn a_name_that_starts_with_a_digit_needs_env() {
        let target = "[[target]]\nname = \"9shop\"\nkind = \"postgres\"\nupstream = \"h:5432\"\n";
        let err = parse_str(target).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(
            err.message.contains("9SHOP_DATABASE_URL"),
            "{}",
            err.message
        );
        let config = parse_str(&format!("{target}env = \"SHOP9\"\n")).unwrap();
        assert_eq!(config.targets[0].env, "SHOP9");
    }

    #[test]
    fn a_bad_value_names_its_line() {
        let err = parse_str("[egress]\n\nmode = \"sometimes\"\n").unwrap_err();
        assert_eq!(err.line, Some(3));
    }

    #[test]
    fn duplicate_names_and_bad_names_are_refused() {
        let one = "[[target]]\nname = \"a\"\nkind = \"http\"\nupstream = \"http://x\"\n";
        let err = parse_str(&format!("{one}{one}")).unwrap_err();
        assert!(err.message.contains("duplicate"), "{}", err.message);
        let err = parse_str("[[target]]\nname = \"Shop\"\nkind = \"http\"\nupstream = \"x\"\n")
            .unwrap_err();
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn without_a_mask_section_guard_masks_with_the_defaults() {
        let config = parse_str("").unwrap();
        assert_eq!(config.mask, MaskConfig::default());
        assert_eq!(config.mask.columns, crate::mask::DEFAULT_COLUMNS);
        assert_eq!(config.mask.style, Style::Partial);
        assert!(!config.mask.detectors.contains(&Kind::Phone));
        let config = parse_str("[mask]\nstyle = \"token\"\n").unwrap();
        assert_eq!(config.mask.columns, crate::mask::DEFAULT_COLUMNS);
        assert_eq!(config.mask.style, Style::Token);
    }

    #[test]
    fn mask_detectors_are_default_or_known_names() {
        let config =
            parse_str("[mask]\ndetectors = [\"email\", \"phone\"]\ncolumns = []\n").unwrap();
        assert_eq!(config.mask.detectors, [Kind::Email, Kind::Phone]);
        assert!(config.mask.columns.is_empty());
        let config = parse_str("[mask]\ndetectors = [\"default\", \"phone\"]\n").unwrap();
        assert_eq!(config.mask.detectors.len(), Kind::DETECTORS.len());
        let err = parse_str("[mask]\nstyle = \"full\"\ndetectors = [\"email\", \"emial\"]\n")
            .unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(
            err.message.contains("`detectors`") && err.message.contains("`emial`"),
            "{err}"
        );
        let err = parse_str("[mask]\ndetectors = 3\n").unwrap_err();
        assert!(err.message.contains("`detectors`"), "{err}");
    }

    #[test]
    fn mask_style_and_columns_are_checked() {
        let err = parse_str("[mask]\n\nstyle = \"fancy\"\n").unwrap_err();
        assert_eq!(err.line, Some(3));
        assert!(err.message.contains("`style`") && err.message.contains("partial, full, token"));
        let err = parse_str("[mask]\ncolumns = [\n  \"email\",\n  \"c?rd\",\n]\n").unwrap_err();
        assert_eq!(err.line, Some(4), "{err}");
        assert!(err.message.contains("`columns`"), "{err}");
        let err = parse_str("[mask]\ncolour = \"red\"\n").unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("colour"), "{err}");
    }

    #[test]
    fn listeners_must_be_loopback() {
        let text = "[[target]]\nname = \"a\"\nkind = \"http\"\nupstream = \"x\"\nlisten = \"0.0.0.0:5432\"\n";
        let err = parse_str(text).unwrap_err();
        assert!(err.message.contains("loopback"), "{}", err.message);
    }
}
