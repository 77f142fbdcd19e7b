//! `produce`: turning one stdin line into a record's timestamp, key and value.

use anyhow::{bail, Result};
use bytes::Bytes;

/// How `produce` reads a line: `[MS<TS-SEP>][KEY<KEY-SEP>]VALUE`.
#[derive(Debug, Clone, Default)]
pub struct LineFormat {
    /// Split the line at the first of these into key and value.
    pub key_separator: Option<String>,
    /// Every line starts with a timestamp (ms) followed by this.
    pub timestamp_separator: Option<String>,
    /// The key of every record (instead of one from the line).
    pub fixed_key: Option<Bytes>,
    /// kcat's `-Z`: an empty value (or key) becomes null.
    pub null_empty: bool,
    /// A value exactly equal to this becomes null.
    pub null_marker: Option<String>,
}

/// What one line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Key (`None`: no key).
    pub key: Option<Bytes>,
    /// Value (`None`: a tombstone).
    pub value: Option<Bytes>,
    /// The line's own timestamp, if the format has one.
    pub timestamp: Option<i64>,
}

/// Splits a line into (key, value) at the first `sep` (lines without it have no key).
pub fn split_line(line: &str, sep: Option<&str>) -> (Option<Bytes>, Bytes) {
    match sep.and_then(|s| line.split_once(s)) {
        Some((k, v)) => (
            Some(Bytes::copy_from_slice(k.as_bytes())),
            Bytes::copy_from_slice(v.as_bytes()),
        ),
        None => (None, Bytes::copy_from_slice(line.as_bytes())),
    }
}

/// Parses a timestamp in ms since the epoch (`--timestamp`, per-line timestamps).
pub fn parse_timestamp(s: &str) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(ms) if ms >= 0 => Ok(ms),
        _ => Err(format!(
            "invalid timestamp '{s}': expected milliseconds since the epoch (0 or more)"
        )),
    }
}

/// Parses `-H KEY=VALUE`.
pub fn parse_header(s: &str) -> Result<(String, Bytes), String> {
    match s.split_once('=') {
        Some(("", _)) => Err(format!("header '{s}' has an empty key")),
        Some((k, v)) => Ok((k.to_string(), Bytes::copy_from_slice(v.as_bytes()))),
        None => Err(format!("header '{s}' is not KEY=VALUE")),
    }
}

impl LineFormat {
    /// Parses line `number` (1-based, for error messages).
    pub fn parse(&self, line: &str, number: u64) -> Result<Line> {
        let mut rest = line;
        let mut timestamp = None;
        if let Some(sep) = &self.timestamp_separator {
            let Some((ts, tail)) = rest.split_once(sep.as_str()) else {
                bail!("line {number}: no timestamp (expected MS{sep} at the start of the line)");
            };
            match parse_timestamp(ts) {
                Ok(ms) => timestamp = Some(ms),
                Err(e) => bail!("line {number}: {e}"),
            }
            rest = tail;
        }
        let (mut key, value) = split_line(rest, self.key_separator.as_deref());
        if self.fixed_key.is_some() {
            key.clone_from(&self.fixed_key);
        }
        let mut value = Some(value);
        if self.null_empty {
            key = key.filter(|k| !k.is_empty());
            value = value.filter(|v| !v.is_empty());
        }
        if let Some(marker) = &self.null_marker {
            value = value.filter(|v| v.as_ref() != marker.as_bytes());
        }
        Ok(Line {
            key,
            value,
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(s.as_bytes()))
    }

    #[test]
    fn line_splitting() {
        assert_eq!(
            split_line("k:v:w", Some(":")),
            (Some(Bytes::from("k")), Bytes::from("v:w"))
        );
        assert_eq!(
            split_line("novalue", Some(":")),
            (None, Bytes::from("novalue"))
        );
        assert_eq!(split_line("a:b", None), (None, Bytes::from("a:b")));
        assert_eq!(
            split_line("key<>val", Some("<>")),
            (Some(Bytes::from("key")), Bytes::from("val"))
        );
        assert_eq!(
            split_line(":v", Some(":")),
            (Some(Bytes::new()), Bytes::from("v"))
        );
    }

    #[test]
    fn tombstones_keys_and_timestamps() {
        let f = LineFormat {
            key_separator: Some(":".into()),
            null_empty: true,
            ..LineFormat::default()
        };
        let l = f.parse("k:", 1).expect("parse");
        assert_eq!((l.key, l.value), (b("k"), None));
        let l = f.parse(":v", 1).expect("parse");
        assert_eq!((l.key, l.value), (None, b("v")));
        // Without -Z an empty value stays an empty value.
        let plain = LineFormat {
            key_separator: Some(":".into()),
            ..LineFormat::default()
        };
        assert_eq!(plain.parse("k:", 1).expect("parse").value, b(""));

        let marker = LineFormat {
            key_separator: Some(":".into()),
            null_marker: Some("NULL".into()),
            ..LineFormat::default()
        };
        assert_eq!(marker.parse("k:NULL", 1).expect("parse").value, None);
        assert_eq!(marker.parse("k:NULLx", 1).expect("parse").value, b("NULLx"));

        let fixed = LineFormat {
            fixed_key: b("user-1"),
            timestamp_separator: Some(",".into()),
            ..LineFormat::default()
        };
        let l = fixed.parse("1700000000000,a,b", 1).expect("parse");
        assert_eq!(
            l,
            Line {
                key: b("user-1"),
                value: b("a,b"),
                timestamp: Some(1_700_000_000_000),
            }
        );
        let e = fixed.parse("no timestamp here", 7).expect_err("missing");
        assert!(e.to_string().contains("line 7: no timestamp"), "{e}");
        let e = fixed.parse("-5,x", 8).expect_err("negative");
        assert!(
            e.to_string().contains("line 8: invalid timestamp '-5'"),
            "{e}"
        );
    }

    #[test]
    fn headers_and_timestamps_parse() {
        assert_eq!(parse_header("a=b=c"), Ok(("a".into(), Bytes::from("b=c"))));
        assert_eq!(parse_header("a="), Ok(("a".into(), Bytes::new())));
        assert!(parse_header("novalue").is_err());
        assert!(parse_header("=v").is_err());
        assert_eq!(parse_timestamp("42"), Ok(42));
        assert!(parse_timestamp("x").is_err());
    }
}
