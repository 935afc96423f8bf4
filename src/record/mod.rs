//! Everything guard writes about a session: the asciicast recording of the screen and the
//! hash-chained JSONL transcript of what happened, plus the reader that verifies both.

pub mod cast;
pub mod clock;
pub mod recorder;
pub mod transcript;
pub mod verify;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lowercase hex of a SHA-256 digest of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&sha256_hex_bytes(bytes)).into_owned()
}

/// `sha256_hex` without an allocation, for the transcript's one per record.
pub fn sha256_hex_bytes(bytes: &[u8]) -> [u8; 64] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    let mut out = [0u8; 64];
    for (pair, b) in out.chunks_exact_mut(2).zip(digest) {
        pair[0] = DIGITS[(b >> 4) as usize];
        pair[1] = DIGITS[(b & 15) as usize];
    }
    out
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}
