//! The secrets guard makes for a session (random bytes, hex session secrets) and how it compares
//! a secret it is shown with one it holds: in constant time, so the time a comparison takes says
//! nothing about where the two differ.

use zeroize::Zeroizing;

/// Fills `bytes` from the operating system's generator. guard cannot issue secrets without it.
pub fn random(bytes: &mut [u8]) {
    getrandom::fill(bytes).expect("the operating system's random number generator failed");
}

/// A fresh secret for this session: 192 random bits as hex, safe in a URL and a password.
pub fn session_secret() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 24]);
    random(bytes.as_mut());
    Zeroizing::new(crate::record::hex(bytes.as_ref()))
}

/// Compares without an early exit.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn session_secrets_are_long_and_differ() {
        let (a, b) = (session_secret(), session_secret());
        assert_eq!(a.len(), 48);
        assert_ne!(*a, *b);
    }
}
