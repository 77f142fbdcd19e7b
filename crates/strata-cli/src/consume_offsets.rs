//! `consume --offset`: where each partition starts, and the warnings when the asked offset
//! is outside what the partition holds.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use anyhow::Result;
use strata_client::{Admin, OffsetSpec, TopicPartition};

/// Where `consume --offset` starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// The earliest retained record (`start`).
    Start,
    /// The end: only records produced from now on (`end`).
    End,
    /// This absolute offset (`N`).
    At(i64),
    /// N records before the end (`-N`).
    BeforeEnd(i64),
    /// N records after the start (`+N`).
    AfterStart(i64),
    /// The first record at or after this time, ms since the epoch (`@MS` or
    /// `@2026-11-23T10:00:00Z`).
    Time(i64),
}

const EXPECTED: &str = "expected start, end, N, -N, +N, @MS or @RFC3339-TIME";

impl FromStr for StartAt {
    type Err = String;

    fn from_str(s: &str) -> Result<StartAt, String> {
        let s = s.trim();
        let count = |digits: &str| -> Result<i64, String> {
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("invalid offset '{s}': {EXPECTED}"));
            }
            digits
                .parse::<i64>()
                .map_err(|_| format!("offset '{s}' is too large"))
        };
        match s {
            "start" | "beginning" | "earliest" | "oldest" => return Ok(StartAt::Start),
            "end" | "latest" | "newest" => return Ok(StartAt::End),
            _ => {}
        }
        if let Some(rest) = s.strip_prefix('@') {
            if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                return count(rest).map(StartAt::Time);
            }
            return crate::datetime::parse_rfc3339_ms(rest)
                .map(StartAt::Time)
                .map_err(|e| format!("invalid time in offset '{s}': {e:#}"));
        }
        if let Some(rest) = s.strip_prefix('-') {
            return count(rest).map(StartAt::BeforeEnd);
        }
        if let Some(rest) = s.strip_prefix('+') {
            return count(rest).map(StartAt::AfterStart);
        }
        count(s).map(StartAt::At)
    }
}

impl fmt::Display for StartAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartAt::Start => write!(f, "start"),
            StartAt::End => write!(f, "end"),
            StartAt::At(n) => write!(f, "{n}"),
            StartAt::BeforeEnd(n) => write!(f, "-{n}"),
            StartAt::AfterStart(n) => write!(f, "+{n}"),
            StartAt::Time(ms) => write!(f, "@{ms}"),
        }
    }
}

/// The offset to start at in a partition holding `earliest..latest`, and a warning when the
/// asked offset falls outside it. `by_time` is the ListOffsets answer for [`StartAt::Time`]
/// (`-1`: no record at or after that time).
pub fn pick(
    at: StartAt,
    earliest: i64,
    latest: i64,
    by_time: Option<i64>,
) -> (i64, Option<String>) {
    let asked = match at {
        StartAt::Start => return (earliest, None),
        StartAt::End => return (latest, None),
        StartAt::At(n) => n,
        StartAt::BeforeEnd(n) => latest.saturating_sub(n),
        StartAt::AfterStart(n) => earliest.saturating_add(n),
        StartAt::Time(ms) => match by_time {
            Some(o) if o >= 0 => return (o, None),
            _ => {
                return (
                    latest,
                    Some(format!(
                        "no record at or after {ms} ms; starting at the end ({latest})"
                    )),
                )
            }
        },
    };
    let described = match at {
        StartAt::At(_) => format!("offset {asked}"),
        _ => format!("offset {at} (= {asked})"),
    };
    if asked < earliest {
        let msg = format!(
            "{described} is before the start; starting at the start ({earliest}, retained \
             {earliest}..{latest})"
        );
        (earliest, Some(msg))
    } else if asked > latest {
        let msg = format!(
            "{described} is past the end; starting at the end ({latest}, retained \
             {earliest}..{latest})"
        );
        (latest, Some(msg))
    } else {
        (asked, None)
    }
}

/// Start offsets for `tps`, with one warning per partition whose asked offset was out of
/// range (naming the partition and what it fell back to).
pub async fn resolve(
    admin: &Admin,
    tps: &[TopicPartition],
    at: StartAt,
) -> Result<(BTreeMap<TopicPartition, i64>, Vec<String>)> {
    let earliest = admin.list_offsets(tps, OffsetSpec::Earliest).await?;
    let latest = admin.list_offsets(tps, OffsetSpec::Latest).await?;
    let by_time = match at {
        StartAt::Time(ms) => Some(admin.list_offsets(tps, OffsetSpec::Timestamp(ms)).await?),
        _ => None,
    };
    let mut offsets = BTreeMap::new();
    let mut warnings = Vec::new();
    for tp in tps {
        let lo = earliest.get(tp).copied().unwrap_or(0);
        let hi = latest.get(tp).copied().unwrap_or(lo);
        let t = by_time.as_ref().map(|m| m.get(tp).copied().unwrap_or(-1));
        let (offset, warning) = pick(at, lo, hi, t);
        if let Some(w) = warning {
            warnings.push(format!("{}-{}: {w}", tp.0, tp.1));
        }
        offsets.insert(tp.clone(), offset);
    }
    Ok((offsets, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!("start".parse(), Ok(StartAt::Start));
        assert_eq!("beginning".parse(), Ok(StartAt::Start));
        assert_eq!("end".parse(), Ok(StartAt::End));
        assert_eq!("17".parse(), Ok(StartAt::At(17)));
        assert_eq!("-3".parse(), Ok(StartAt::BeforeEnd(3)));
        assert_eq!("+4".parse(), Ok(StartAt::AfterStart(4)));
        assert_eq!(
            "@1700000000000".parse(),
            Ok(StartAt::Time(1_700_000_000_000))
        );
        assert_eq!(
            "@1970-01-01T00:00:01Z".parse::<StartAt>(),
            Ok(StartAt::Time(1000))
        );
        for bad in ["", "x", "-", "+", "--1", "1.5", "@", "@yesterday", "+-1"] {
            let e = bad.parse::<StartAt>().expect_err(bad);
            assert!(e.contains("offset"), "{bad}: {e}");
        }
        assert!("99999999999999999999".parse::<StartAt>().is_err());
    }

    #[test]
    fn picks_and_warns() {
        // A partition holding offsets 10..20.
        assert_eq!(pick(StartAt::Start, 10, 20, None), (10, None));
        assert_eq!(pick(StartAt::End, 10, 20, None), (20, None));
        assert_eq!(pick(StartAt::At(15), 10, 20, None), (15, None));
        assert_eq!(pick(StartAt::At(20), 10, 20, None), (20, None));
        assert_eq!(pick(StartAt::BeforeEnd(3), 10, 20, None), (17, None));
        assert_eq!(pick(StartAt::AfterStart(3), 10, 20, None), (13, None));
        assert_eq!(pick(StartAt::Time(5), 10, 20, Some(12)), (12, None));

        let (o, w) = pick(StartAt::At(5), 10, 20, None);
        assert_eq!(o, 10);
        let w = w.expect("warning");
        assert!(w.contains("offset 5 is before the start"), "{w}");
        assert!(w.contains("starting at the start (10"), "{w}");
        let (o, w) = pick(StartAt::At(25), 10, 20, None);
        assert_eq!(o, 20);
        assert!(w.expect("warning").contains("past the end"));
        let (o, w) = pick(StartAt::BeforeEnd(50), 10, 20, None);
        assert_eq!(o, 10);
        assert!(w.expect("warning").contains("offset -50 (= -30)"));
        let (o, w) = pick(StartAt::AfterStart(50), 10, 20, None);
        assert_eq!(o, 20);
        assert!(w
            .expect("warning")
            .contains("offset +50 (= 60) is past the end"));
        let (o, w) = pick(StartAt::Time(99), 10, 20, Some(-1));
        assert_eq!(o, 20);
        assert!(w.expect("warning").contains("no record at or after 99 ms"));
    }
}
