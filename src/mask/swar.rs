//! Byte-class tests on eight bytes at once, for the scans every byte of a session goes
//! through (the masker's digit runs, the recording's JSON escapes): the high bit of each byte
//! of the result is set where the byte is in the class.

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
pub const HIGH: u64 = 0x8080_8080_8080_8080;
const fn splat(b: u8) -> u64 {
    u64::from_le_bytes([b; 8])
}

/// Bytes in `lo..=hi` (ASCII only): adding `0x80 - lo` sets the high bit at `>= lo`,
/// adding `0x7f - hi` at `> hi`; clearing the high bits first keeps carries in their byte.
#[inline(always)]
pub fn in_range(word: u64, lo: u8, hi: u8) -> u64 {
    let low = word & LOW7;
    let at_least = low + splat(0x80 - lo);
    let above = low + splat(0x7f - hi);
    at_least & !above & !word & HIGH
}

#[inline(always)]
pub fn digits(word: u64) -> u64 {
    in_range(word, b'0', b'9')
}

#[inline(always)]
pub fn equal(word: u64, b: u8) -> u64 {
    in_range(word, b, b)
}

/// `.`, `(`, `)` and `+`, which phone numbers are written with besides spaces and dashes.
pub fn phone_punctuation(word: u64) -> u64 {
    equal(word, b'.') | in_range(word, b'(', b')') | equal(word, b'+')
}

/// Whether two capitals and two digits, as an IBAN starts, end in `now`, the word after
/// `before`.
pub fn iban_start(before: u64, now: u64) -> bool {
    let upper = |w: u64| u128::from(in_range(w, b'A', b'Z'));
    let digits = |w: u64| u128::from(digits(w));
    let upper = upper(before) | upper(now) << 64;
    let digits = digits(before) | digits(now) << 64;
    let starts = upper & upper >> 8 & digits >> 16 & digits >> 24;
    // Starts at bytes 5 to 12 of the two words end in the second.
    let ending_now = ((1u128 << 104) - 1) & !((1u128 << 40) - 1);
    starts & ending_now != 0
}
