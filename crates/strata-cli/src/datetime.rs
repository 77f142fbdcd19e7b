//! RFC 3339 timestamps (`2026-11-23T10:00:00Z`, `2026-11-23T10:00:00.250+01:00`) to
//! milliseconds since the Unix epoch, without a date library.

use anyhow::{bail, Context, Result};

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian calendar).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn num(s: &str, what: &str) -> Result<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        bail!("invalid {what} '{s}'");
    }
    s.parse().with_context(|| format!("invalid {what} '{s}'"))
}

/// Parses an RFC 3339 date-time into epoch milliseconds.
pub fn parse_rfc3339_ms(input: &str) -> Result<i64> {
    let s = input.trim();
    let err = || format!("'{input}' is not an RFC 3339 date-time like 2026-11-23T10:00:00Z");
    let (date, rest) = s.split_at_checked(10).with_context(err)?;
    let sep = rest.chars().next().with_context(err)?;
    if !matches!(sep, 'T' | 't' | ' ') {
        bail!(err());
    }
    let rest = &rest[1..];
    let d: Vec<&str> = date.split('-').collect();
    if d.len() != 3 || d[0].len() != 4 || d[1].len() != 2 || d[2].len() != 2 {
        bail!(err());
    }
    let (year, month, day) = (num(d[0], "year")?, num(d[1], "month")?, num(d[2], "day")?);
    let month_days = [
        31,
        if is_leap(year) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        bail!("'{input}': no such date");
    }
    // Split off the zone: Z, or the last + / - (the time itself has no signs).
    let (time, offset_min) = if let Some(t) = rest.strip_suffix(['Z', 'z']) {
        (t, 0)
    } else {
        let i = rest
            .rfind(['+', '-'])
            .with_context(|| format!("'{input}': missing time zone (Z or +HH:MM)"))?;
        let (t, z) = rest.split_at(i);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':').with_context(err)?;
        let (h, m) = (num(h, "zone hour")?, num(m, "zone minute")?);
        if h > 23 || m > 59 {
            bail!(err());
        }
        (t, sign * (h * 60 + m))
    };
    let (hms, frac) = match time.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (time, None),
    };
    let t: Vec<&str> = hms.split(':').collect();
    if t.len() != 3 || t.iter().any(|p| p.len() != 2) {
        bail!(err());
    }
    let (hour, minute, second) = (
        num(t[0], "hour")?,
        num(t[1], "minute")?,
        num(t[2], "second")?,
    );
    // 60 is a leap second; treat it as the last millisecond's neighbour, as most tools do.
    if hour > 23 || minute > 59 || second > 60 {
        bail!("'{input}': no such time");
    }
    let millis = match frac {
        None => 0,
        Some(f) => {
            num(f, "fraction")?;
            let mut digits: String = f.chars().take(3).collect();
            while digits.len() < 3 {
                digits.push('0');
            }
            num(&digits, "fraction")?
        }
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    Ok(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z").expect("epoch"), 0);
        // date -u -d 2026-11-23T10:00:00Z +%s → 1795428000
        assert_eq!(
            parse_rfc3339_ms("2026-11-23T10:00:00Z").expect("parse"),
            1_795_428_000_000
        );
        assert_eq!(
            parse_rfc3339_ms("2026-11-23T11:00:00.250+01:00").expect("parse"),
            1_795_428_000_250
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T23:59:59-00:30").expect("leap day"),
            951_870_599_000
        );
    }

    #[test]
    fn rejects_nonsense() {
        for bad in [
            "",
            "2026-11-23",
            "2026-11-23T10:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-23T25:00:00Z",
            "2026-11-23T10:00Z",
            "yesterday",
            "2026-11-23T10:00:00+1",
        ] {
            assert!(parse_rfc3339_ms(bad).is_err(), "{bad:?} accepted");
        }
    }
}
