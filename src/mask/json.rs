//! JSON documents (HTTP bodies, json columns): values under keys that match a `columns` glob
//! are masked whole (with everything nested under them), keys that label a secret mask their
//! value as one, and the detectors run over every other string, number and key at any depth.
//! Walks with its own stack, so a deeply nested document cannot overflow the thread's.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{MaskCounts, Masker, columns};

/// What the keys above a value say about it.
#[derive(Clone)]
enum Ctx {
    /// Nothing: detectors only.
    Free,
    /// Under a key that matches a glob (mask whole) or whose name labels its value
    /// (`api_token`, `ssn`): masked as a cell of a column with that name.
    Named(String),
}

/// What one key says, worked out once per document: a list of records repeats its keys in
/// every record.
struct KeyInfo {
    ctx: Option<Ctx>,
    /// The key masked, when the detectors find a value in it.
    masked: Option<(String, MaskCounts)>,
}

type Keys = HashMap<String, KeyInfo>;

pub fn mask_json(masker: &Masker, root: &mut Value) -> MaskCounts {
    let mut counts = MaskCounts::default();
    let mut keys = Keys::new();
    let mut stack: Vec<(&mut Value, Ctx)> = vec![(root, Ctx::Free)];
    while let Some((value, ctx)) = stack.pop() {
        match value {
            Value::Object(map) => {
                rename_keys(masker, map, &mut keys, &mut counts);
                for (key, child) in map.iter_mut() {
                    let child_ctx = key_info(masker, &mut keys, key).ctx.clone();
                    stack.push((child, child_ctx.unwrap_or_else(|| ctx.clone())));
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut().map(|v| (v, ctx.clone()))),
            Value::String(text) => {
                if let Some(masked) = mask_scalar(masker, text, &ctx, &mut counts) {
                    *text = masked;
                }
            }
            // A number can be a card number or an SSN; masked, it becomes a string.
            Value::Number(n) => {
                if let Some(masked) = mask_scalar(masker, &n.to_string(), &ctx, &mut counts) {
                    *value = Value::String(masked);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
    }
    counts
}

fn key_info<'k>(masker: &Masker, keys: &'k mut Keys, key: &str) -> &'k KeyInfo {
    if !keys.contains_key(key) {
        let ctx = (masker.column_masked(key) || columns::label(key).is_some())
            .then(|| Ctx::Named(key.to_string()));
        let masked = masker.mask_text(key);
        let masked = match masked.text {
            Cow::Owned(new) => Some((new, masked.counts)),
            Cow::Borrowed(_) => None,
        };
        keys.insert(key.to_string(), KeyInfo { ctx, masked });
    }
    &keys[key]
}

fn mask_scalar(masker: &Masker, text: &str, ctx: &Ctx, counts: &mut MaskCounts) -> Option<String> {
    let masked = match ctx {
        Ctx::Free => masker.mask_text(text),
        Ctx::Named(key) => masker.mask_cell(Some(key), text),
    };
    counts.merge(&masked.counts);
    match masked.text {
        Cow::Owned(s) => Some(s),
        Cow::Borrowed(_) => None,
    }
}

/// Keys can hold values too (a map keyed by e-mail address). Two keys that mask alike keep
/// both entries: the second gets a `~2` suffix.
fn rename_keys(
    masker: &Masker,
    map: &mut Map<String, Value>,
    keys: &mut Keys,
    counts: &mut MaskCounts,
) {
    let mut renames: Vec<(String, String)> = Vec::new();
    for key in map.keys() {
        if let Some((new, found)) = &key_info(masker, keys, key).masked {
            counts.merge(found);
            renames.push((key.clone(), new.clone()));
        }
    }
    if renames.is_empty() {
        return;
    }
    let old = std::mem::take(map);
    for (key, value) in old {
        let renamed = renames
            .iter()
            .find(|(from, _)| *from == key)
            .map(|(_, to)| to.clone());
        let base = renamed.unwrap_or(key);
        let mut new = base.clone();
        let mut n = 2;
        while map.contains_key(&new) {
            new = format!("{base}~{n}");
            n += 1;
        }
        map.insert(new, value);
    }
}
