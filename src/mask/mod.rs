//! Masking: finds sensitive values and replaces them before the agent or a session file sees
//! them. One `Masker` per session, cheap to clone and shared by the gateways, the recorder and
//! `guard mask test`. Structure comes first (column and JSON key globs), then detectors with
//! validators for free text, and every credential guard registered is redacted regardless.
//!
//! The module depends on nothing else in guard, so the benchmark and the fuzz target include
//! it as it is.

mod columns;
mod engine;
mod json;
mod prefilter;
mod render;
mod rules;
mod secrets;
mod stream;
pub(crate) mod swar;
mod validate;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use hmac::{Hmac, KeyInit};
use sha2::Sha256;

pub use columns::{DEFAULT_COLUMNS, check_glob, glob};
pub use stream::MaskStream;

use engine::{Engine, Hit};
use secrets::{SecretSet, Secrets};

/// What a masked value was: a detector's name, a masked column, or a registered credential.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Email,
    CreditCard,
    Ssn,
    Phone,
    Iban,
    Jwt,
    PrivateKey,
    AwsKey,
    GithubToken,
    GitlabToken,
    SlackToken,
    StripeKey,
    OpenaiKey,
    AnthropicKey,
    GenericSecret,
    /// A value masked whole because its column or JSON key matched a `columns` glob.
    Column,
    /// A credential registered with `Masker::add_secret`.
    Secret,
}

impl Kind {
    /// The detectors `[mask] detectors` can name, in the order the documentation lists them.
    pub const DETECTORS: [Kind; 15] = [
        Kind::Email,
        Kind::CreditCard,
        Kind::Ssn,
        Kind::Phone,
        Kind::Iban,
        Kind::Jwt,
        Kind::PrivateKey,
        Kind::AwsKey,
        Kind::GithubToken,
        Kind::GitlabToken,
        Kind::SlackToken,
        Kind::StripeKey,
        Kind::OpenaiKey,
        Kind::AnthropicKey,
        Kind::GenericSecret,
    ];

    /// Every kind, ordered by `name`: the order of `masked.kinds` in records.
    pub const BY_NAME: [Kind; 17] = [
        Kind::AnthropicKey,
        Kind::AwsKey,
        Kind::Column,
        Kind::CreditCard,
        Kind::Email,
        Kind::GenericSecret,
        Kind::GithubToken,
        Kind::GitlabToken,
        Kind::Iban,
        Kind::Jwt,
        Kind::OpenaiKey,
        Kind::Phone,
        Kind::PrivateKey,
        Kind::Secret,
        Kind::SlackToken,
        Kind::Ssn,
        Kind::StripeKey,
    ];

    /// The name in the configuration and in `masked.kinds`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Email => "email",
            Kind::CreditCard => "credit_card",
            Kind::Ssn => "ssn",
            Kind::Phone => "phone",
            Kind::Iban => "iban",
            Kind::Jwt => "jwt",
            Kind::PrivateKey => "private_key",
            Kind::AwsKey => "aws_key",
            Kind::GithubToken => "github_token",
            Kind::GitlabToken => "gitlab_token",
            Kind::SlackToken => "slack_token",
            Kind::StripeKey => "stripe_key",
            Kind::OpenaiKey => "openai_key",
            Kind::AnthropicKey => "anthropic_key",
            Kind::GenericSecret => "generic_secret",
            Kind::Column => "column",
            Kind::Secret => "secret",
        }
    }

    /// A detector by its configuration name.
    pub fn detector(name: &str) -> Option<Kind> {
        Kind::DETECTORS.into_iter().find(|k| k.name() == name)
    }

    /// Phone numbers are opt-in: too many ordinary numbers look like one.
    pub fn on_by_default(self) -> bool {
        self != Kind::Phone
    }

    /// The word in `[label]` placeholders and `label_<hex>` tokens.
    fn label(self) -> &'static str {
        match self {
            Kind::GenericSecret => "secret",
            Kind::Column => "masked",
            Kind::Secret => "redacted",
            other => other.name(),
        }
    }
}

/// How a masked value is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// A hint of the value: `a***@example.com`, `**** **** **** 1111`, `ghp_****`.
    #[default]
    Partial,
    /// A placeholder naming the kind, `[email]`: the agent learns what was there but not its
    /// length, and a placeholder cannot be mistaken for data the way a run of `*` can.
    Full,
    /// A keyed HMAC-SHA256 digest, `email_3f9a2c1b04d5`: the same value gives the same token
    /// within a session (joins and GROUP BY still work) and a different one in the next.
    Token,
}

impl Style {
    pub const NAMES: [&'static str; 3] = ["partial", "full", "token"];

    pub fn from_name(name: &str) -> Option<Style> {
        match name {
            "partial" => Some(Style::Partial),
            "full" => Some(Style::Full),
            "token" => Some(Style::Token),
            _ => None,
        }
    }
}

/// The validated `[mask]` section.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaskConfig {
    /// Globs on column names and JSON keys whose whole value is masked.
    pub columns: Vec<String>,
    pub detectors: Vec<Kind>,
    pub style: Style,
}

impl Default for MaskConfig {
    /// What guard masks without a `[mask]` section: the SPEC example's columns, every detector
    /// but `phone`, partial style.
    fn default() -> Self {
        MaskConfig {
            columns: DEFAULT_COLUMNS.iter().map(|c| c.to_string()).collect(),
            detectors: default_detectors(),
            style: Style::Partial,
        }
    }
}

pub fn default_detectors() -> Vec<Kind> {
    Kind::DETECTORS
        .into_iter()
        .filter(|k| k.on_by_default())
        .collect()
}

/// `detectors = [...]`: names, where `default` stands for the default set.
pub fn detectors_from_names<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> Result<Vec<Kind>, String> {
    let mut kinds = Vec::new();
    for name in names {
        let found = if name == "default" {
            default_detectors()
        } else {
            vec![Kind::detector(name).ok_or_else(|| {
                let known: Vec<&str> = Kind::DETECTORS.iter().map(|k| k.name()).collect();
                format!(
                    "unknown detector `{name}`; known: default, {}",
                    known.join(", ")
                )
            })?]
        };
        for kind in found {
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    Ok(kinds)
}

/// How many values were masked, by kind: the `masked` field of `result` and `http` records,
/// `{"count": N, "kinds": {"email": 2}}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MaskCounts {
    pub count: u32,
    pub kinds: KindCounts,
}

impl MaskCounts {
    pub fn add(&mut self, kind: Kind) {
        self.count = self.count.saturating_add(1);
        let n = &mut self.kinds.0[kind as usize];
        *n = n.saturating_add(1);
    }

    /// Adds another cell's, row's or chunk's counts, for a whole result set.
    pub fn merge(&mut self, other: &MaskCounts) {
        if other.count == 0 {
            return;
        }
        self.count = self.count.saturating_add(other.count);
        for (total, n) in self.kinds.0.iter_mut().zip(other.kinds.0) {
            *total = total.saturating_add(n);
        }
    }

    #[allow(
        dead_code,
        reason = "for the gateways: a record without masking says so"
    )]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "count": self.count, "kinds": self.kinds })
    }
}

/// The counts of `MaskCounts` by kind, one slot per `Kind`: a gateway adds up a count for
/// every cell of a result, and a map would allocate for each. It reads like the map it
/// replaces: kinds by name, in name order, only those counted.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct KindCounts([u32; Kind::BY_NAME.len()]);

impl KindCounts {
    /// The count of the kind named `name`; `None` when there is none.
    #[cfg(test)]
    pub fn get(&self, name: &str) -> Option<&u32> {
        self.iter().find(|(k, _)| *k == name).map(|(_, n)| n)
    }

    /// The kinds counted and their counts, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &u32)> {
        Kind::BY_NAME
            .iter()
            .map(|&kind| (kind.name(), &self.0[kind as usize]))
            .filter(|(_, n)| **n > 0)
    }
}

impl std::fmt::Debug for KindCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl serde::Serialize for KindCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// A masked text (or bytes) and what was masked in it; borrowed when nothing was.
pub struct Masked<'a, T: ?Sized + ToOwned = str> {
    pub text: Cow<'a, T>,
    pub counts: MaskCounts,
}

impl<T: ?Sized + ToOwned + std::fmt::Debug> std::fmt::Debug for Masked<'_, T>
where
    T::Owned: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masked")
            .field("text", &self.text)
            .field("counts", &self.counts)
            .finish()
    }
}

impl<'a, T: ?Sized + ToOwned> Masked<'a, T> {
    fn unchanged(text: &'a T) -> Self {
        Masked {
            text: Cow::Borrowed(text),
            counts: MaskCounts::default(),
        }
    }
}

#[derive(Debug)]
pub struct MaskError(String);

impl std::fmt::Display for MaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MaskError {}

/// The session's masker. Clones share the rules, the token key and the registered secrets.
#[derive(Clone)]
pub struct Masker {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    columns: columns::Columns,
    style: Style,
    /// HMAC-SHA256 keyed with this session's random key, for `token` style.
    mac: Hmac<Sha256>,
    secrets: Secrets,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Masker")
            .field("style", &self.inner.style)
            .finish_non_exhaustive()
    }
}

impl Masker {
    /// A masker for one session, with a fresh random key for `token` style.
    pub fn new(config: &MaskConfig) -> Result<Masker, MaskError> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|e| MaskError(format!("no random key for masking tokens: {e}")))?;
        let masker = Masker::with_key(config, &key);
        // The keyed HMAC state is all that needs the key from here on.
        key.fill(0);
        std::hint::black_box(&key);
        masker
    }

    fn with_key(config: &MaskConfig, key: &[u8]) -> Result<Masker, MaskError> {
        let engine = Engine::new(&config.detectors).map_err(MaskError)?;
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
            .map_err(|e| MaskError(format!("masking token key: {e}")))?;
        Ok(Masker {
            inner: Arc::new(Inner {
                engine,
                columns: columns::Columns::new(&config.columns),
                style: config.style,
                mac,
                secrets: Secrets::default(),
            }),
        })
    }

    /// Whether a column or JSON key matches a `columns` glob, so its whole value is masked.
    /// A gateway can ask once per column of a RowDescription.
    pub fn column_masked(&self, name: &str) -> bool {
        self.inner.columns.matches(name)
    }

    /// Registers a credential guard knows (a leased password, a token it injects): from now on
    /// every masking call by every clone replaces it with `[redacted]`. False when it is
    /// shorter than `secrets::MIN_SECRET_LEN` bytes and was not registered.
    #[allow(
        dead_code,
        reason = "the broker and the gateways register what they hold"
    )]
    pub fn add_secret(&self, secret: impl AsRef<[u8]>) -> bool {
        self.inner.secrets.add(secret.as_ref())
    }

    /// Masks detected values (and registered secrets) anywhere in `text`.
    pub fn mask_text<'a>(&self, text: &'a str) -> Masked<'a> {
        into_str(self.mask_bytes(text.as_bytes()), text)
    }

    /// `mask_text` for bytes that need not be UTF-8 (wire data, terminal output).
    pub fn mask_bytes<'a>(&self, bytes: &'a [u8]) -> Masked<'a, [u8]> {
        self.snapshot().mask_bytes(bytes)
    }

    /// This masker with the secrets registered so far, for many values in a row (the cells of
    /// a DataRow): the registered set is looked up once rather than once a value. A secret
    /// registered meanwhile is redacted from the next snapshot on.
    pub fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            masker: self,
            secrets: self.inner.secrets.current(),
        }
    }

    /// What the rules say about a column (or JSON key) by its name, to resolve once per column
    /// of a result and reuse for every cell with `mask_value`.
    pub fn column(&self, name: &str) -> Column {
        Column {
            masked: self.column_masked(name),
            label: columns::label(name),
            password: rules::password_key(name.as_bytes()),
        }
    }

    /// A result cell: the whole value when `column` matches a glob, a secret or SSN whole when
    /// the column's name says it holds one (`api_token`, `ssn`), else the detectors.
    pub fn mask_cell<'a>(&self, column: Option<&str>, value: &'a str) -> Masked<'a> {
        into_str(self.mask_cell_bytes(column, value.as_bytes()), value)
    }

    /// `mask_cell` for a cell's raw bytes.
    pub fn mask_cell_bytes<'a>(&self, column: Option<&str>, value: &'a [u8]) -> Masked<'a, [u8]> {
        match column {
            Some(name) => self.mask_value(&self.column(name), value),
            None => self.mask_bytes(value),
        }
    }

    /// `mask_cell_bytes` with the column's rules resolved by `column`.
    pub fn mask_value<'a>(&self, column: &Column, value: &'a [u8]) -> Masked<'a, [u8]> {
        self.snapshot().mask_value(column, value)
    }

    /// Masks every value of a JSON document in place: values under keys that match a glob
    /// whole, keys and values by the detectors at any depth.
    pub fn mask_json(&self, value: &mut serde_json::Value) -> MaskCounts {
        json::mask_json(self, value)
    }

    /// A masker for a byte stream that arrives in chunks (HTTP bodies, SSE, terminal output).
    pub fn stream(&self) -> MaskStream {
        MaskStream::new(self.clone())
    }

    /// Detector hits and registered secrets in `hay[from..]`, in order, not overlapping, and
    /// where a stream must hold back from (see `Engine::find`).
    fn scan(
        &self,
        hay: &[u8],
        from: usize,
        at_end: bool,
        secrets: &SecretSet,
    ) -> (Vec<Hit>, Option<usize>) {
        let mut hits = Vec::new();
        let pending = self.inner.engine.find(hay, from, at_end, &mut hits);
        if secrets.is_empty() {
            return (hits, pending);
        }
        (merge_secrets(hits, secrets.find(hay, from)), pending)
    }

    /// Writes `hay[range]` to `out` with the hits inside it replaced.
    fn render(
        &self,
        hay: &[u8],
        range: Range<usize>,
        hits: &[Hit],
        out: &mut Vec<u8>,
        counts: &mut MaskCounts,
    ) {
        let mut at = range.start;
        for hit in hits {
            if hit.mask.start < at || hit.mask.end > range.end {
                continue;
            }
            out.extend_from_slice(&hay[at..hit.mask.start]);
            let value = &hay[hit.mask.clone()];
            render::replacement(self.inner.style, &self.inner.mac, hit.kind, value, out);
            counts.add(hit.kind);
            at = hit.mask.end;
        }
        out.extend_from_slice(&hay[at..range.end]);
    }

    /// How many trailing bytes a stream must hold back: the longest match a rule or a
    /// registered secret can make, plus the byte after it that `\b` looks at.
    fn hold_len(&self, secrets: &SecretSet) -> usize {
        (self.inner.engine.max_len + 8).max(secrets.max_len + 1)
    }
}

/// A `Masker` with the registered secrets of one moment, from `Masker::snapshot`.
pub struct Snapshot<'m> {
    masker: &'m Masker,
    secrets: Arc<SecretSet>,
}

impl Snapshot<'_> {
    /// `Masker::mask_bytes`.
    pub fn mask_bytes<'a>(&self, bytes: &'a [u8]) -> Masked<'a, [u8]> {
        let (hits, _) = self.masker.scan(bytes, 0, true, &self.secrets);
        if hits.is_empty() {
            return Masked::unchanged(bytes);
        }
        let mut counts = MaskCounts::default();
        let mut out = Vec::with_capacity(bytes.len());
        self.masker
            .render(bytes, 0..bytes.len(), &hits, &mut out, &mut counts);
        let out = redact_again(&self.secrets, out, &mut counts);
        Masked {
            text: Cow::Owned(out),
            counts,
        }
    }

    /// `Masker::mask_json`.
    pub fn mask_json(&self, value: &mut serde_json::Value) -> MaskCounts {
        self.masker.mask_json(value)
    }

    /// `Masker::mask_value`.
    pub fn mask_value<'a>(&self, column: &Column, value: &'a [u8]) -> Masked<'a, [u8]> {
        let label = column.label.filter(|&kind| labelled(column, kind, value));
        if label.is_some() || column.masked {
            return self.mask_whole(value, label);
        }
        self.mask_bytes(value)
    }

    /// Replaces a whole value. The kind is the registered secret it holds, else `kind`, else
    /// what a detector finds spanning the value, else `column`.
    fn mask_whole<'a>(&self, value: &'a [u8], kind: Option<Kind>) -> Masked<'a, [u8]> {
        let span = trimmed(value);
        if span.is_empty() {
            return Masked::unchanged(value);
        }
        let (hits, _) = self.masker.scan(value, 0, true, &self.secrets);
        let (kind, span) = if hits.iter().any(|h| h.kind == Kind::Secret) {
            (Kind::Secret, span)
        } else if let Some(kind) = kind {
            (kind, span)
        } else {
            match hits.as_slice() {
                [one] if one.mask == span => (one.kind, span),
                _ => (Kind::Column, span),
            }
        };
        let mut out = Vec::new();
        let inner = &self.masker.inner;
        render::replacement(inner.style, &inner.mac, kind, &value[span], &mut out);
        let mut counts = MaskCounts::default();
        counts.add(kind);
        Masked {
            text: Cow::Owned(out),
            counts,
        }
    }
}

/// The masking rules of one column or JSON key, from `Masker::column`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// A `columns` glob matches: every value is masked whole.
    pub masked: bool,
    /// The name says what the values are (`api_token`: a secret, `ssn`: an SSN).
    label: Option<Kind>,
    /// The name is a password's, which any non-empty value is.
    password: bool,
}

impl Column {
    /// Whether some value of this column may be masked whole (a glob, or a name that says what
    /// its values are), so a gateway can plan for a cell that no longer parses as its type.
    pub fn may_mask_whole(&self) -> bool {
        self.masked || self.label.is_some() || self.password
    }
}

/// Whether a value under a name that labels it (`api_token`, `ssn`) is one.
fn labelled(column: &Column, kind: Kind, value: &[u8]) -> bool {
    let value = &value[trimmed(value)];
    match kind {
        Kind::GenericSecret => rules::secret_value(column.password, value),
        Kind::Ssn => {
            value
                .iter()
                .all(|b| b.is_ascii_digit() || *b == b'-' || *b == b' ')
                && validate::ssn(value)
        }
        _ => false,
    }
}

fn trimmed(value: &[u8]) -> Range<usize> {
    let start = value
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    start..end
}

/// Registered secrets win over detector values they overlap: the union is redacted whole, so
/// neither a partial hint nor the rest of a value can show part of a credential.
fn merge_secrets(hits: Vec<Hit>, secrets: Vec<Range<usize>>) -> Vec<Hit> {
    if secrets.is_empty() {
        return hits;
    }
    let mut all = hits;
    all.extend(secrets.into_iter().map(|r| Hit {
        whole: r.clone(),
        mask: r,
        kind: Kind::Secret,
        carry: None,
    }));
    all.sort_by_key(|h| (h.mask.start, h.mask.end));
    let mut merged: Vec<Hit> = Vec::with_capacity(all.len());
    for hit in all {
        match merged.last_mut() {
            Some(last) if hit.mask.start < last.mask.end => {
                last.mask.end = last.mask.end.max(hit.mask.end);
                last.whole =
                    last.whole.start.min(hit.whole.start)..last.whole.end.max(hit.whole.end);
                last.kind = Kind::Secret;
                last.carry = None;
            }
            _ => merged.push(hit),
        }
    }
    merged
}

/// A replacement next to kept text could, in a contrived case, spell a registered secret
/// (`email_` + hex before `...`): one more pass over the output redacts what it finds.
fn redact_again(secrets: &SecretSet, out: Vec<u8>, counts: &mut MaskCounts) -> Vec<u8> {
    let found = secrets.find(&out, 0);
    if found.is_empty() {
        return out;
    }
    let mut again = Vec::with_capacity(out.len());
    let mut at = 0;
    for span in found {
        again.extend_from_slice(&out[at..span.start]);
        again.extend_from_slice(render::REDACTED);
        counts.add(Kind::Secret);
        at = span.end;
    }
    again.extend_from_slice(&out[at..]);
    again
}

fn into_str<'a>(masked: Masked<'a, [u8]>, original: &'a str) -> Masked<'a> {
    let text = match masked.text {
        Cow::Borrowed(_) => Cow::Borrowed(original),
        // Spans are widened to whole characters and replacements are ASCII, so this holds;
        // the lossy path only keeps a broken invariant from becoming a panic.
        Cow::Owned(bytes) => Cow::Owned(
            String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
    };
    Masked {
        text,
        counts: masked.counts,
    }
}

#[cfg(test)]
mod prefilter_tests;
#[cfg(test)]
mod tests;
