//! Wall-clock formatting for records and ids, without a date library: RFC 3339 UTC timestamps
//! with milliseconds and the compact form used in session ids.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A civil UTC date and time, broken down from a Unix time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub millis: u32,
}

impl Utc {
    pub fn from_system(t: SystemTime) -> Self {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        let secs = since.as_secs() as i64;
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let rem = secs.rem_euclid(86_400) as u32;
        Utc {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
            millis: since.subsec_millis(),
        }
    }

    pub fn now() -> Self {
        Self::from_system(SystemTime::now())
    }

    /// `2026-11-27T06:15:30.123Z`, the `ts` of every transcript record.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second, self.millis
        )
    }

    /// `rfc3339` written into `out` without formatting machinery: every transcript line has one.
    pub fn write_rfc3339(&self, out: &mut Vec<u8>) {
        fn digits(out: &mut Vec<u8>, value: u64, width: usize) {
            let mut buf = [b'0'; 20];
            let mut v = value;
            for slot in buf[..width].iter_mut().rev() {
                *slot = b'0' + (v % 10) as u8;
                v /= 10;
            }
            out.extend_from_slice(&buf[..width]);
        }
        if !(0..=9999).contains(&self.year) {
            out.extend_from_slice(self.rfc3339().as_bytes());
            return;
        }
        digits(out, self.year as u64, 4);
        for (sep, value) in [(b'-', self.month), (b'-', self.day), (b'T', self.hour)] {
            out.push(sep);
            digits(out, value.into(), 2);
        }
        for value in [self.minute, self.second] {
            out.push(b':');
            digits(out, value.into(), 2);
        }
        out.push(b'.');
        digits(out, self.millis.into(), 3);
        out.push(b'Z');
    }

    /// `20261127T061530Z`, the sortable first half of a session id.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_760_130_123);
        let utc = Utc::from_system(t);
        assert_eq!(utc.rfc3339(), "2026-11-27T06:15:30.123Z");
        let mut written = Vec::new();
        utc.write_rfc3339(&mut written);
        assert_eq!(written, b"2026-11-27T06:15:30.123Z");
        assert_eq!(utc.compact(), "20261127T061530Z");
        assert_eq!(
            Utc::from_system(UNIX_EPOCH).rfc3339(),
            "1970-01-01T00:00:00.000Z"
        );
        // A leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(Utc::from_system(leap).rfc3339(), "2000-02-29T00:00:00.000Z");
    }
}
