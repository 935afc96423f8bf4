//! Masking of what the server sends, before the client sees it. Messages are rebuilt, never
//! patched in place: every length is recomputed (protocol docs, "Message Formats").
//!
//! * RowDescription: each field's name, table OID, column number, type OID and format are kept
//!   as the plan for the DataRows that follow. A column's rules come from its own name and,
//!   when the server names a source column (table OID and column number not zero), from that
//!   column's real name, looked up on a side connection (`Catalog`), so `email as e` is masked.
//! * DataRow: text-format cells, and binary cells of text-like types (text, varchar, bpchar,
//!   name, json, and jsonb after its version byte), are masked as text: by the column's rules,
//!   and by the free-text detectors in every cell whatever its column.
//! * A column masked by its name whose type is not text-like (an integer SSN) is announced to
//!   the client as `text` (OID 25, typlen -1, typmod -1) with its format code unchanged: the
//!   binary form of `text` is its UTF-8 bytes, so the masked text decodes in every client in
//!   either format. Binary integers are turned into their decimal text first; other binary
//!   values of such a column, and any cell of a non-text-like type whose value a detector
//!   flags but which cannot carry masked text (an `int8` holding a card number), are sent as
//!   NULL. NULL always decodes, and it says nothing about the value.
//! * CopyData of COPY TO STDOUT in text or CSV format: each chunk (one row per message from
//!   the server) is masked by the detectors. Binary COPY is passed through unmasked (not yet
//!   supported: its fields would have to be decoded like binary DataRow cells).
//! * ErrorResponse and NoticeResponse: every field but severity and SQLSTATE (a failed cast
//!   prints the value). NotificationResponse: the channel and payload.

use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::frame::{Frame, split_frame};
use super::message::Reader;
use super::upstream::{self, Upstream, UpstreamConfig};
use crate::mask::{Column, MaskCounts, Masker, Snapshot};

/// Type OIDs (pg_type.dat) whose text and binary forms are both the UTF-8 text.
const TEXT_LIKE: &[u32] = &[25, 1043, 1042, 19, 142, 705];
const JSON: u32 = 114;
const JSONB: u32 = 3802;
const TEXT: u32 = 25;
const INT2: u32 = 21;
const INT4: u32 = 23;
const INT8: u32 = 20;
/// Types whose text form a client parses strictly: masked text would not decode.
const STRICT: &[u32] = &[
    INT2, INT4, INT8, 26, 700, 701, 1700, 16, 1082, 1083, 1114, 1184, 1186, 2950, 869, 650, 774,
    829, 1266, 17,
];

/// How one result column's cells are treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Repr {
    /// Text, or text in binary form: mask the bytes.
    Text,
    /// json, or jsonb in text form: values masked by their keys and the detectors.
    Json,
    /// jsonb in binary form: a version byte, then the JSON text.
    JsonbBinary,
    /// Masked by name but not text-like: announced as `text`, cells turned into text.
    AsText,
    /// Parsed strictly by clients (numbers, dates, binary forms): a flagged value becomes NULL.
    Strict,
}

#[derive(Clone, Debug)]
struct Field {
    column: Column,
    repr: Repr,
    type_oid: u32,
    format: i16,
}

/// The plan for the DataRows of one result, from its RowDescription.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    fields: Vec<Field>,
}

/// One RowDescription field as sent (protocol docs, "RowDescription").
struct RawField<'a> {
    name: &'a [u8],
    table: u32,
    attnum: i16,
    type_oid: u32,
    typlen: i16,
    typmod: i32,
    format: i16,
}

fn read_fields(body: &[u8]) -> Option<Vec<RawField<'_>>> {
    let mut r = Reader::new(body);
    let count = i16_of(r.take(2)?);
    let mut fields = Vec::with_capacity(usize::try_from(count).ok()?);
    for _ in 0..count {
        let name = r.cstr()?;
        let table = r.i32()? as u32;
        let attnum = i16_of(r.take(2)?);
        let type_oid = r.i32()? as u32;
        let typlen = i16_of(r.take(2)?);
        let typmod = r.i32()?;
        let format = i16_of(r.take(2)?);
        fields.push(RawField {
            name,
            table,
            attnum,
            type_oid,
            typlen,
            typmod,
            format,
        });
    }
    Some(fields)
}

fn i16_of(b: &[u8]) -> i16 {
    i16::from_be_bytes([b[0], b[1]])
}

/// The (table OID, column number) pairs a RowDescription names, to resolve before `describe`.
pub fn sources(frame: &Frame) -> Vec<(u32, i16)> {
    read_fields(frame.body())
        .unwrap_or_default()
        .iter()
        .filter(|f| f.table != 0 && f.attnum > 0)
        .map(|f| (f.table, f.attnum))
        .collect()
}

/// The plan for a RowDescription, and the message rebuilt when a column's type is rewritten.
/// `source` gives the real name of a table column. A malformed message plans nothing: its
/// rows are then masked by the detectors alone.
pub fn describe(
    masker: &Masker,
    frame: &Frame,
    source: impl Fn(u32, i16) -> Option<String>,
) -> Result<(Plan, Option<Bytes>), Malformed> {
    // Without the columns, the rules by column name could not apply to the rows that follow.
    let raw = read_fields(frame.body()).ok_or(Malformed)?;
    let mut fields = Vec::with_capacity(raw.len());
    for f in &raw {
        let column = column_rules(masker, f, &source);
        fields.push(Field {
            repr: repr_of(&column, f.type_oid, f.format),
            column,
            type_oid: f.type_oid,
            format: f.format,
        });
    }
    let rebuilt = fields
        .iter()
        .any(|f| f.repr == Repr::AsText)
        .then(|| row_description(&raw, &fields));
    Ok((Plan { fields }, rebuilt))
}

/// The column's rules by its own name, or by its source column's when those mask more.
fn column_rules(
    masker: &Masker,
    f: &RawField<'_>,
    source: &impl Fn(u32, i16) -> Option<String>,
) -> Column {
    let own = masker.column(&String::from_utf8_lossy(f.name));
    if own.may_mask_whole() || f.table == 0 || f.attnum <= 0 {
        return own;
    }
    match source(f.table, f.attnum) {
        Some(name) => {
            let real = masker.column(&name);
            if real.may_mask_whole() { real } else { own }
        }
        None => own,
    }
}

fn repr_of(column: &Column, type_oid: u32, format: i16) -> Repr {
    if TEXT_LIKE.contains(&type_oid) {
        return Repr::Text;
    }
    if column.may_mask_whole() {
        return Repr::AsText;
    }
    match (type_oid, format) {
        (JSON, _) | (JSONB, 0) => Repr::Json,
        (JSONB, _) => Repr::JsonbBinary,
        (t, 0) if !STRICT.contains(&t) => Repr::Text,
        _ => Repr::Strict,
    }
}

/// RowDescription with the `AsText` columns announced as `text` (OID 25, typlen -1, typmod -1).
fn row_description(raw: &[RawField<'_>], fields: &[Field]) -> Bytes {
    build(b'T', |b| {
        b.put_i16(raw.len() as i16);
        for (f, plan) in raw.iter().zip(fields) {
            b.put_slice(f.name);
            b.put_u8(0);
            b.put_u32(f.table);
            b.put_i16(f.attnum);
            if plan.repr == Repr::AsText {
                b.put_u32(TEXT);
                b.put_i16(-1);
                b.put_i32(-1);
            } else {
                b.put_u32(f.type_oid);
                b.put_i16(f.typlen);
                b.put_i32(f.typmod);
            }
            b.put_i16(f.format);
        }
    })
}

/// A DataRow with its cells masked, or `None` when nothing changed and the frame can go as is.
/// The row is rebuilt from the first cell that changed on; the cells before it are copied as
/// they came.
pub fn data_row(
    masker: &Masker,
    plan: &Plan,
    frame: &Frame,
    counts: &mut MaskCounts,
) -> Result<Option<Bytes>, Malformed> {
    let body = frame.body();
    let (mut cells, count) = Cells::new(body).ok_or(Malformed)?;
    let fields = (plan.fields.len() == count).then_some(&plan.fields[..]);
    // One look-up of the registered secrets for the whole row, not one a cell.
    let masker = masker.snapshot();
    let mut rebuilt: Option<Vec<u8>> = None;
    for i in 0..count {
        let (start, cell) = cells.next().ok_or(Malformed)?;
        let out = match (cell, fields.map(|f| &f[i])) {
            (None, _) => None,
            (Some(v), Some(field)) => mask_cell(&masker, field, v, counts),
            (Some(v), None) => {
                let masked = masker.mask_bytes(v);
                counts.merge(&masked.counts);
                Some(masked.text)
            }
        };
        if rebuilt.is_none() && !same(&cell, &out) {
            let mut row = Vec::with_capacity(frame.raw().len() + 64);
            row.push(b'D');
            row.extend_from_slice(&[0; 4]);
            row.extend_from_slice(&body[..start]);
            rebuilt = Some(row);
        }
        if let Some(row) = rebuilt.as_mut() {
            put_cell(row, out.as_deref());
        }
    }
    // Bytes after the last cell are as foreign as a cell cut short (libpq refuses them too).
    if cells.at != body.len() {
        return Err(Malformed);
    }
    let Some(mut row) = rebuilt else {
        return Ok(None);
    };
    let len = (row.len() - 1) as i32;
    row[1..5].copy_from_slice(&len.to_be_bytes());
    Ok(Some(Bytes::from(row)))
}

/// A server message that does not read as its type says: guard cannot tell what in it to mask,
/// so it must not reach the client (fail closed).
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed;

fn same(before: &Option<&[u8]>, after: &Option<Cow<'_, [u8]>>) -> bool {
    match (before, after) {
        (None, None) => true,
        (Some(_), Some(Cow::Borrowed(_))) => true,
        (Some(a), Some(b)) => *a == &**b,
        _ => false,
    }
}

fn put_cell(row: &mut Vec<u8>, cell: Option<&[u8]>) {
    match cell {
        None => row.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(v) => {
            row.extend_from_slice(&(v.len() as i32).to_be_bytes());
            row.extend_from_slice(v);
        }
    }
}

/// DataRow cells: Int16 count, then per cell Int32 length (-1 for NULL) and the bytes.
struct Cells<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Cells<'a> {
    /// The cells and how many there are.
    fn new(body: &'a [u8]) -> Option<(Cells<'a>, usize)> {
        let count = usize::try_from(i16_of(body.get(..2)?)).ok()?;
        Some((Cells { body, at: 2 }, count))
    }

    /// The next cell (`None` inside for NULL) and where its length starts in the body; `None`
    /// when the row ends before it.
    fn next(&mut self) -> Option<(usize, Option<&'a [u8]>)> {
        let start = self.at;
        let mut r = Reader::new(self.body.get(start..)?);
        let len = r.i32()?;
        let cell = match usize::try_from(len) {
            Ok(len) => Some(r.take(len)?),
            Err(_) => None,
        };
        self.at = start + 4 + cell.map_or(0, <[u8]>::len);
        Some((start, cell))
    }
}

/// All the cells of a DataRow.
fn read_cells(body: &[u8]) -> Option<Vec<Option<&[u8]>>> {
    let (mut cells, count) = Cells::new(body)?;
    (0..count)
        .map(|_| cells.next().map(|(_, cell)| cell))
        .collect()
}

/// One non-NULL cell; `None` is NULL.
fn mask_cell<'a>(
    masker: &Snapshot<'_>,
    field: &Field,
    value: &'a [u8],
    counts: &mut MaskCounts,
) -> Option<Cow<'a, [u8]>> {
    match field.repr {
        Repr::Text => Some(apply(masker.mask_value(&field.column, value), counts)),
        Repr::Json => Some(json(masker, value, counts)),
        Repr::JsonbBinary => {
            let (version, text) = value.split_first()?;
            let masked = json(masker, text, counts);
            if let Cow::Borrowed(_) = masked {
                return Some(Cow::Borrowed(value));
            }
            let mut out = Vec::with_capacity(masked.len() + 1);
            out.push(*version);
            out.extend_from_slice(&masked);
            Some(Cow::Owned(out))
        }
        Repr::AsText => as_text(masker, field, value, counts),
        Repr::Strict => strict(masker, field, value, counts),
    }
}

fn apply<'a>(masked: crate::mask::Masked<'a, [u8]>, counts: &mut MaskCounts) -> Cow<'a, [u8]> {
    if !masked.counts.is_empty() {
        counts.merge(&masked.counts);
    }
    masked.text
}

/// A JSON document: values under masked keys whole, the rest by the detectors. The document
/// is written again only when something was masked; one that does not parse is masked as text.
fn json<'a>(masker: &Snapshot<'_>, value: &'a [u8], counts: &mut MaskCounts) -> Cow<'a, [u8]> {
    let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(value) else {
        return apply(masker.mask_bytes(value), counts);
    };
    let found = masker.mask_json(&mut doc);
    if found.is_empty() {
        return Cow::Borrowed(value);
    }
    counts.merge(&found);
    match serde_json::to_vec(&doc) {
        Ok(text) => Cow::Owned(text),
        Err(_) => apply(masker.mask_bytes(value), counts),
    }
}

/// A cell of a column announced as `text`: its text form, masked.
fn as_text<'a>(
    masker: &Snapshot<'_>,
    field: &Field,
    value: &'a [u8],
    counts: &mut MaskCounts,
) -> Option<Cow<'a, [u8]>> {
    if field.format == 0 {
        let masked = apply(masker.mask_value(&field.column, value), counts);
        return Some(masked);
    }
    let text = match (field.type_oid, value.split_first()) {
        (JSON, _) => String::from_utf8_lossy(value).into_owned(),
        (JSONB, Some((_, json))) => String::from_utf8_lossy(json).into_owned(),
        _ => match binary_int(field.type_oid, value) {
            Some(text) => text,
            None => {
                counts.add(crate::mask::Kind::Column);
                return None;
            }
        },
    };
    let masked = apply(masker.mask_value(&field.column, text.as_bytes()), counts);
    Some(Cow::Owned(masked.into_owned()))
}

/// A cell clients parse strictly: unchanged, or NULL when a detector flags its value.
fn strict<'a>(
    masker: &Snapshot<'_>,
    field: &Field,
    value: &'a [u8],
    counts: &mut MaskCounts,
) -> Option<Cow<'a, [u8]>> {
    let text = match field.format {
        0 => Cow::Borrowed(value),
        _ => match binary_int(field.type_oid, value) {
            Some(text) => Cow::Owned(text.into_bytes()),
            // Other binary forms are not text; a detector has nothing to read.
            None => return Some(Cow::Borrowed(value)),
        },
    };
    let masked = masker.mask_bytes(&text);
    if masked.counts.is_empty() {
        return Some(Cow::Borrowed(value));
    }
    counts.merge(&masked.counts);
    None
}

/// The decimal text of a binary int2, int4 or int8 (network byte order).
fn binary_int(type_oid: u32, value: &[u8]) -> Option<String> {
    match (type_oid, value.len()) {
        (INT2, 2) => Some(i16::from_be_bytes([value[0], value[1]]).to_string()),
        (INT4, 4) => Some(i32::from_be_bytes(value.try_into().ok()?).to_string()),
        (INT8, 8) => Some(i64::from_be_bytes(value.try_into().ok()?).to_string()),
        _ => None,
    }
}

/// ErrorResponse or NoticeResponse with every field but severity and SQLSTATE masked, or
/// `None` when nothing changed or the message is malformed.
pub fn error(
    masker: &Masker,
    frame: &Frame,
    counts: &mut MaskCounts,
) -> Result<Option<Bytes>, Malformed> {
    let mut r = Reader::new(frame.body());
    let mut fields = Vec::new();
    let mut changed = false;
    loop {
        let code = r.u8().ok_or(Malformed)?;
        if code == 0 {
            break;
        }
        let value = r.cstr().ok_or(Malformed)?;
        let value = match code {
            // Severity and SQLSTATE are codes clients act on; anything else a server puts in
            // them is text like the rest.
            b'S' | b'V' | b'C' if is_code(value) => Cow::Borrowed(value),
            _ => apply(masker.mask_bytes(value), counts),
        };
        changed |= matches!(value, Cow::Owned(_));
        fields.push((code, value));
    }
    Ok(changed.then(|| {
        build(frame.tag(), |b| {
            for (code, value) in &fields {
                b.put_u8(*code);
                put_cstr(b, value);
            }
            b.put_u8(0);
        })
    }))
}

/// `ERROR`, `FATAL`, `42501`: a few ASCII letters and digits.
fn is_code(value: &[u8]) -> bool {
    value.len() <= 16 && value.iter().all(u8::is_ascii_alphanumeric)
}

/// NotificationResponse: Int32 process id, channel, payload.
pub fn notification(
    masker: &Masker,
    frame: &Frame,
    counts: &mut MaskCounts,
) -> Result<Option<Bytes>, Malformed> {
    let mut r = Reader::new(frame.body());
    let pid = r.i32().ok_or(Malformed)?;
    let channel = apply(masker.mask_bytes(r.cstr().ok_or(Malformed)?), counts);
    let payload = apply(masker.mask_bytes(r.cstr().ok_or(Malformed)?), counts);
    if matches!((&channel, &payload), (Cow::Borrowed(_), Cow::Borrowed(_))) {
        return Ok(None);
    }
    Ok(Some(build(frame.tag(), |b| {
        b.put_i32(pid);
        put_cstr(b, &channel);
        put_cstr(b, &payload);
    })))
}

/// CopyData from the server: the row text masked.
pub fn copy_data(masker: &Masker, frame: &Frame, counts: &mut MaskCounts) -> Option<Bytes> {
    match apply(masker.mask_bytes(frame.body()), counts) {
        Cow::Borrowed(_) => None,
        Cow::Owned(text) => Some(build(frame.tag(), |b| b.put_slice(&text))),
    }
}

fn put_cstr(b: &mut BytesMut, value: &[u8]) {
    // A NUL would end the string early; the server never sends one inside, a mask never adds one.
    b.extend(value.iter().map(|&c| if c == 0 { b' ' } else { c }));
    b.put_u8(0);
}

fn build(tag: u8, fill: impl FnOnce(&mut BytesMut)) -> Bytes {
    let mut buf = BytesMut::with_capacity(64);
    buf.put_u8(tag);
    buf.put_i32(0);
    fill(&mut buf);
    let len = (buf.len() - 1) as i32;
    buf[1..5].copy_from_slice(&len.to_be_bytes());
    buf.freeze()
}

/// Real names of table columns, looked up on a side connection of guard's own (never the
/// client's, whose transaction state it must not touch) and cached for the client connection.
pub struct Catalog {
    config: UpstreamConfig,
    conn: Option<Upstream>,
    names: HashMap<(u32, i16), Option<String>>,
    /// The side connection failed once; names are not looked up again.
    broken: bool,
}

/// How long one look-up may hold up a result.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

impl Catalog {
    pub fn new(config: UpstreamConfig) -> Self {
        Catalog {
            config,
            conn: None,
            names: HashMap::new(),
            broken: false,
        }
    }

    /// The real name of column `attnum` of table `table`, if it was resolved.
    pub fn name(&self, table: u32, attnum: i16) -> Option<String> {
        self.names.get(&(table, attnum)).cloned().flatten()
    }

    /// Looks up the columns a RowDescription names that are not cached yet. A failure leaves
    /// them unnamed: those columns are then masked by their own names and the detectors.
    pub async fn resolve(&mut self, wanted: &[(u32, i16)]) {
        let mut missing: Vec<(u32, i16)> = wanted
            .iter()
            .filter(|k| !self.names.contains_key(k))
            .copied()
            .collect();
        missing.dedup();
        if missing.is_empty() || self.broken {
            return;
        }
        match tokio::time::timeout(LOOKUP_TIMEOUT, self.lookup(&missing)).await {
            Ok(Ok(found)) => self.names.extend(found),
            _ => {
                self.broken = true;
                self.conn = None;
            }
        }
        for key in missing {
            self.names.entry(key).or_insert(None);
        }
    }

    async fn lookup(&mut self, keys: &[(u32, i16)]) -> std::io::Result<Vec<Named>> {
        if self.conn.is_none() {
            let conn = upstream::connect(&self.config, &[]).await;
            self.conn = Some(conn.map_err(std::io::Error::other)?);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Vec::new());
        };
        // Only integers go into the text: nothing the client sent reaches this statement.
        let pairs: Vec<String> = keys
            .iter()
            .map(|(t, a)| format!("({t}::oid,{a}::int2)"))
            .collect();
        let sql = format!(
            "SELECT attrelid::int8, attnum, attname FROM pg_catalog.pg_attribute \
             WHERE (attrelid, attnum) IN ({})",
            pairs.join(",")
        );
        // Query: 'Q', Int32 length, the statement as a C string.
        let query = build(b'Q', |b| put_cstr(b, sql.as_bytes()));
        conn.stream.write_all(&query).await?;
        read_names(conn).await
    }
}

type Named = ((u32, i16), Option<String>);

/// DataRows (three text cells) until ReadyForQuery.
async fn read_names(conn: &mut Upstream) -> std::io::Result<Vec<Named>> {
    let mut found = Vec::new();
    loop {
        while let Some(frame) = split_frame(&mut conn.buf).map_err(std::io::Error::other)? {
            match frame.tag() {
                b'D' => found.extend(named(&frame)),
                b'Z' => return Ok(found),
                b'E' => return Err(std::io::Error::other("column look-up failed")),
                _ => {}
            }
        }
        if conn.stream.read_buf(&mut conn.buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

fn named(frame: &Frame) -> Option<Named> {
    let cells = read_cells(frame.body())?;
    let text = |i: usize| std::str::from_utf8(cells.get(i).copied().flatten()?).ok();
    let table = text(0)?.parse().ok()?;
    let attnum = text(1)?.parse().ok()?;
    Some(((table, attnum), Some(text(2)?.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::MaskConfig;

    /// A RowDescription of text columns with these names.
    fn text_columns(names: &[&str]) -> Frame {
        let mut body = (names.len() as i16).to_be_bytes().to_vec();
        for name in names {
            body.extend_from_slice(name.as_bytes());
            body.push(0);
            body.extend_from_slice(&[0; 6]); // table OID, column number
            body.extend_from_slice(&TEXT.to_be_bytes());
            body.extend_from_slice(&(-1i16).to_be_bytes());
            body.extend_from_slice(&(-1i32).to_be_bytes());
            body.extend_from_slice(&0i16.to_be_bytes());
        }
        Frame::new(b'T', &body)
    }

    fn row(cells: &[Option<&str>]) -> Frame {
        let mut body = (cells.len() as i16).to_be_bytes().to_vec();
        for cell in cells {
            match cell {
                None => body.extend_from_slice(&(-1i32).to_be_bytes()),
                Some(v) => {
                    body.extend_from_slice(&(v.len() as i32).to_be_bytes());
                    body.extend_from_slice(v.as_bytes());
                }
            }
        }
        Frame::new(b'D', &body)
    }

    #[test]
    fn a_row_is_rebuilt_with_only_its_masked_cells_changed() {
        let masker = Masker::new(&MaskConfig::default()).unwrap();
        let names = ["id", "note", "contact", "tail"];
        let (plan, _) = describe(&masker, &text_columns(&names), |_, _| None).unwrap();
        let mut counts = MaskCounts::default();
        let plain = row(&[Some("1"), None, Some("call me"), Some("")]);
        assert_eq!(data_row(&masker, &plan, &plain, &mut counts), Ok(None));
        let cells = [Some("1"), None, Some("mail bob@example.com"), Some("x")];
        let masked = data_row(&masker, &plan, &row(&cells), &mut counts)
            .unwrap()
            .unwrap();
        let expected = row(&[Some("1"), None, Some("mail b***@example.com"), Some("x")]);
        assert_eq!(masked, expected.raw());
        assert_eq!(counts.count, 1);
        // Without a plan (a row whose RowDescription was not understood) the detectors still
        // run, and what they mask is counted.
        let masked = data_row(&masker, &Plan::default(), &row(&cells), &mut counts)
            .unwrap()
            .unwrap();
        assert_eq!(masked, expected.raw());
        assert_eq!(counts.count, 2);
    }

    #[test]
    fn a_registered_secret_in_any_cell_of_a_row_is_redacted() {
        let masker = Masker::new(&MaskConfig::default()).unwrap();
        let (plan, _) = describe(&masker, &text_columns(&["a", "b"]), |_, _| None).unwrap();
        let mut counts = MaskCounts::default();
        let cells = [Some("leased-pw-93xk"), Some("a note: leased-pw-93xk.")];
        assert_eq!(
            data_row(&masker, &plan, &row(&cells), &mut counts),
            Ok(None)
        );
        masker.add_secret("leased-pw-93xk");
        let masked = data_row(&masker, &plan, &row(&cells), &mut counts)
            .unwrap()
            .unwrap();
        let expected = row(&[Some("[redacted]"), Some("a note: [redacted].")]);
        assert_eq!(masked, expected.raw());
    }

    #[test]
    fn a_row_cut_short_or_with_bytes_after_it_is_malformed() {
        // Fail closed: such a row used to go to the client as it came, value and all.
        let masker = Masker::new(&MaskConfig::default()).unwrap();
        let full = row(&[Some("bob@example.com"), Some("x")]);
        let cut = Frame::new(b'D', &full.body()[..full.body().len() - 1]);
        let mut counts = MaskCounts::default();
        let plan = Plan::default();
        assert_eq!(data_row(&masker, &plan, &cut, &mut counts), Err(Malformed));
        let long = Frame::new(b'D', &[full.body(), b"bob@example.com"].concat());
        assert_eq!(data_row(&masker, &plan, &long, &mut counts), Err(Malformed));
        let error_cut = Frame::new(b'E', b"SERROR\0Mmail bob@example.com");
        assert_eq!(error(&masker, &error_cut, &mut counts), Err(Malformed));
        let notify_cut = Frame::new(b'A', b"\0\0\0\x01chan\0bob@example.com");
        assert_eq!(
            notification(&masker, &notify_cut, &mut counts),
            Err(Malformed)
        );
    }

    #[test]
    fn a_severity_or_sqlstate_that_is_not_a_code_is_masked() {
        let masker = Masker::new(&MaskConfig::default()).unwrap();
        masker.add_secret("Fz9SecretKey7Qx");
        let body = b"SERROR\0VERROR\0C22P02 Fz9SecretKey7Qx\0Mbad\0\0";
        let frame = Frame::new(b'E', body);
        let mut counts = MaskCounts::default();
        let masked = error(&masker, &frame, &mut counts).unwrap().unwrap();
        let text = String::from_utf8_lossy(&masked);
        assert!(!text.contains("Fz9SecretKey7Qx"), "{text}");
        assert!(text.contains("SERROR\0VERROR\0C22P02 "), "{text}");
        let plain = Frame::new(b'E', b"SERROR\0VERROR\0C22P02\0Mbad\0\0");
        assert_eq!(error(&masker, &plain, &mut counts), Ok(None));
    }
}
