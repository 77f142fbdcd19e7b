//! Durations as people type them: ISO 8601 (`PT10M`, `P1DT2H`, `PT0.5S`) or short units
//! (`10m`, `1h30m`, `90s`, `2d`, `250ms`).

use anyhow::{bail, Result};

/// Parses a duration into milliseconds.
pub fn parse_duration_ms(input: &str) -> Result<i64> {
    let s = input.trim();
    let err = || {
        anyhow::anyhow!("'{input}' is not a duration like PT10M, P1DT2H, 10m, 1h30m, 90s or 250ms")
    };
    if s.is_empty() {
        return Err(err());
    }
    let upper = s.to_ascii_uppercase();
    let total = if let Some(iso) = upper.strip_prefix('P') {
        parse_iso(iso).ok_or_else(err)?
    } else {
        parse_units(&s.to_ascii_lowercase()).ok_or_else(err)?
    };
    if total < 0.0 || total > i64::MAX as f64 {
        bail!("duration '{input}' is out of range");
    }
    Ok(total.round() as i64)
}

/// `nDTnHnMnS` after the `P` (weeks as `nW`); milliseconds.
fn parse_iso(s: &str) -> Option<f64> {
    let (date, time) = match s.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return None;
            }
            (d, t)
        }
        None => (s, ""),
    };
    if date.is_empty() && time.is_empty() {
        return None;
    }
    let mut total = 0.0;
    for (n, unit) in fields(date)? {
        total += n * match unit {
            'W' => 604_800_000.0,
            'D' => 86_400_000.0,
            _ => return None,
        };
    }
    for (n, unit) in fields(time)? {
        total += n * match unit {
            'H' => 3_600_000.0,
            'M' => 60_000.0,
            'S' => 1_000.0,
            _ => return None,
        };
    }
    Some(total)
}

/// `12H30M` into `[(12, 'H'), (30, 'M')]`.
fn fields(s: &str) -> Option<Vec<(f64, char)>> {
    let mut out = Vec::new();
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
        } else {
            let n: f64 = num.parse().ok()?;
            out.push((n, c));
            num.clear();
        }
    }
    num.is_empty().then_some(out)
}

/// `1h30m`, `90s`, `250ms`, `2d`; a bare number is seconds.
fn parse_units(s: &str) -> Option<f64> {
    if let Ok(n) = s.parse::<f64>() {
        return Some(n * 1000.0);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1.0,
            "s" => 1_000.0,
            "m" => 60_000.0,
            "h" => 3_600_000.0,
            "d" => 86_400_000.0,
            "w" => 604_800_000.0,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[unit_len..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_and_short_forms() {
        assert_eq!(parse_duration_ms("PT10M").unwrap(), 600_000);
        assert_eq!(parse_duration_ms("pt10m").unwrap(), 600_000);
        assert_eq!(parse_duration_ms("P1DT2H").unwrap(), 93_600_000);
        assert_eq!(parse_duration_ms("PT0.5S").unwrap(), 500);
        assert_eq!(parse_duration_ms("10m").unwrap(), 600_000);
        assert_eq!(parse_duration_ms("1h30m").unwrap(), 5_400_000);
        assert_eq!(parse_duration_ms("250ms").unwrap(), 250);
        assert_eq!(parse_duration_ms("90").unwrap(), 90_000);
        for bad in ["", "P", "PT", "10x", "m", "PT10", "P1H", "-5m", "1e400"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }
}
