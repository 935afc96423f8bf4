//! Validators that turn a regex candidate into a finding: Luhn with card brand prefixes and
//! lengths, SSN ranges, IBAN mod 97, the JWT header, Basic credentials. They run only on
//! candidates the engine found, never over whole texts, and never panic on any bytes.

/// The digits of `bytes`, skipping everything else.
#[cfg(test)]
pub fn digits(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect()
}

/// `digits` on the stack (a validator runs for every candidate of a result): `None` when there
/// are more than `N`, more than any number the caller takes.
fn digits_upto<const N: usize>(bytes: &[u8]) -> Option<([u8; N], usize)> {
    let mut out = [0u8; N];
    let mut n = 0;
    for b in bytes.iter().filter(|b| b.is_ascii_digit()) {
        *out.get_mut(n)? = b - b'0';
        n += 1;
    }
    Some((out, n))
}

/// The Luhn checksum every payment card number carries.
pub fn luhn(digits: &[u8]) -> bool {
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let d = u32::from(d);
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    !digits.is_empty() && sum.is_multiple_of(10)
}

/// A payment card number: separators (if any) all the same, a known brand's prefix and length,
/// and the Luhn check. Luhn alone passes one random number in ten, which is why the brand
/// tables matter (NOTES 5.1: ~10% of 13-19 digit ids in a real corpus pass Luhn).
pub fn card(candidate: &[u8]) -> bool {
    let mut separators = candidate.iter().filter(|b| !b.is_ascii_digit());
    if let Some(first) = separators.next()
        && separators.any(|b| b != first)
    {
        return false;
    }
    // No brand issues more than 19 digits.
    let Some((d, n)) = digits_upto::<19>(candidate) else {
        return false;
    };
    brand_fits(&d[..n]) && luhn(&d[..n])
}

/// Visa, Mastercard (51-55 and the 2-series 2221-2720), Amex, Discover, JCB, Diners Club and
/// UnionPay, each with the lengths it issues.
fn brand_fits(d: &[u8]) -> bool {
    let len = d.len();
    let prefix = |n: usize| -> u32 {
        d.iter()
            .take(n)
            .fold(0u32, |acc, &x| acc * 10 + u32::from(x))
    };
    let (p2, p3, p4, p6) = (prefix(2), prefix(3), prefix(4), prefix(6));
    let visa = d.first() == Some(&4) && matches!(len, 13 | 16 | 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16;
    let amex = matches!(p2, 34 | 37) && len == 15;
    let discover =
        (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6))
            && (16..=19).contains(&len);
    let jcb = (3528..=3589).contains(&p4) && (16..=19).contains(&len);
    let diners = ((300..=305).contains(&p3) || p4 == 3095 || matches!(p2, 36 | 38 | 39))
        && (14..=19).contains(&len);
    let unionpay = p2 == 62 && (16..=19).contains(&len);
    visa || mastercard || amex || discover || jcb || diners || unionpay
}

/// A US social security number that could have been issued: area not 000, 666 or 900-999,
/// group not 00, serial not 0000. `candidate` holds 9 digits, with or without separators.
pub fn ssn(candidate: &[u8]) -> bool {
    let Some((d, 9)) = digits_upto::<9>(candidate) else {
        return false;
    };
    let num = |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |a, &x| a * 10 + u32::from(x));
    let (area, group, serial) = (num(0..3), num(3..5), num(5..9));
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// An IBAN: country letters, check digits, 15 to 34 characters, and mod 97 of the rearranged
/// number equal to 1 (ISO 13616).
pub fn iban(candidate: &[u8]) -> bool {
    let chars: Vec<u8> = candidate.iter().copied().filter(|&b| b != b' ').collect();
    if !(15..=34).contains(&chars.len())
        || !chars[..2].iter().all(u8::is_ascii_uppercase)
        || !chars[2..4].iter().all(u8::is_ascii_digit)
        || !chars
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return false;
    }
    let mut rem = 0u32;
    for &b in chars[4..].iter().chain(&chars[..4]) {
        let v = if b.is_ascii_digit() {
            u32::from(b - b'0')
        } else {
            u32::from(b - b'A') + 10
        };
        rem = if v >= 10 {
            (rem * 100 + v) % 97
        } else {
            (rem * 10 + v) % 97
        };
    }
    rem == 1
}

/// A JWT (three dot-separated segments, or five for an encrypted one) whose first segment
/// decodes to a JSON header naming its algorithm. A base64 blob that merely starts with `eyJ`
/// is not one.
pub fn jwt(token: &[u8]) -> bool {
    let segments: Vec<&[u8]> = token.split(|&b| b == b'.').collect();
    if !matches!(segments.len(), 3 | 5) || segments[..2].iter().any(|s| s.len() < 4) {
        return false;
    }
    match base64_decode(segments[0], true) {
        Some(header) => header.first() == Some(&b'{') && header.windows(5).any(|w| w == b"\"alg\""),
        None => false,
    }
}

/// `Basic <base64>` carries `user:password`.
pub fn basic_credentials(encoded: &[u8]) -> bool {
    let trimmed: &[u8] = match encoded.iter().position(|&b| b == b'=') {
        Some(at) => &encoded[..at],
        None => encoded,
    };
    match base64_decode(trimmed, false) {
        Some(plain) => {
            plain.len() >= 3
                && plain.contains(&b':')
                && plain.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
        }
        None => false,
    }
}

/// Mixed letters and digits, as in generated keys; a kebab-case name after `sk-` is not a key.
pub fn looks_random(value: &[u8]) -> bool {
    let has = |f: fn(&u8) -> bool| value.iter().any(f);
    has(u8::is_ascii_digit) && has(u8::is_ascii_uppercase) && has(u8::is_ascii_lowercase)
}

/// Decodes unpadded base64 (`url`: the URL-safe alphabet). `None` on any other byte.
pub fn base64_decode(text: &[u8], url: bool) -> Option<Vec<u8>> {
    let value = |b: u8| -> Option<u32> {
        Some(match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' if url => 62,
            b'_' if url => 63,
            b'+' if !url => 62,
            b'/' if !url => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in text {
        acc = (acc << 6) | value(b)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_refuses_off_by_one() {
        assert!(luhn(&digits(b"4111111111111111")));
        assert!(luhn(&digits(b"79927398713")));
        assert!(!luhn(&digits(b"4111111111111112")));
        assert!(!luhn(&[]));
    }

    #[test]
    fn cards_of_every_brand_pass() {
        for number in [
            "4111111111111111",    // Visa
            "4222222222222",       // Visa, 13 digits
            "5555555555554444",    // Mastercard
            "2223003122003222",    // Mastercard 2-series
            "378282246310005",     // Amex
            "6011111111111117",    // Discover
            "3530111333300000",    // JCB
            "30569309025904",      // Diners Club
            "6200000000000005",    // UnionPay
            "4111-1111-1111-1111", // with dashes
            "4111 1111 1111 1111", // with spaces
        ] {
            assert!(card(number.as_bytes()), "{number}");
        }
    }

    #[test]
    fn luhn_valid_numbers_without_a_brand_and_mixed_separators_fail() {
        assert!(luhn(&digits(b"1234567812345670")));
        assert!(!card(b"1234567812345670"), "no brand starts with 1");
        assert!(!card(b"4111 1111-1111 1111"), "mixed separators");
        assert!(!card(b"37828224631000"), "Amex is 15 digits");
        assert!(!card(b"41111111111111111111"), "no brand issues 20 digits");
    }

    #[test]
    fn ssn_ranges() {
        assert!(ssn(b"123-45-6789"));
        assert!(ssn(b"123456789"));
        for bad in [
            "000-12-3456",
            "666-12-3456",
            "900-12-3456",
            "999-12-3456",
            "123-00-4567",
            "123-45-0000",
            "12-345-678",
            "123-45-67890",
        ] {
            assert!(!ssn(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn iban_mod_97() {
        assert!(iban(b"DE89370400440532013000"));
        assert!(iban(b"GB82 WEST 1234 5698 7654 32"));
        assert!(!iban(b"DE89370400440532013001"));
        assert!(!iban(b"DE8937040044"));
    }

    #[test]
    fn jwt_header_must_decode() {
        let jwt_text = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert!(jwt(jwt_text));
        assert!(!jwt(b"eyJwYWdlIjoyfQ.eyJwYWdlIjoyfQ.abc"), "no alg");
        assert!(!jwt(b"eyJhbGciOiJIUzI1NiJ9"), "one segment");
    }

    #[test]
    fn basic_credentials_hold_a_colon() {
        assert!(basic_credentials(b"dXNlcjpwYXNzd29yZA=="));
        assert!(!basic_credentials(b"understanding"));
    }
}
