//! The classic Prometheus text format (version 0.0.4) from the OpenMetrics text that
//! `prometheus-client` writes.
//!
//! The two differ where a classic scraper would go wrong: an OpenMetrics counter family
//! `x` has samples `x_total`, while a classic family must be named as its samples, so a
//! classic parser would take `x_total` for an untyped series. Counter families are
//! renamed to `x_total`, `# UNIT` lines and the `# EOF` terminator are dropped;
//! everything else (gauges, histograms, label escaping) reads the same in both.

use std::collections::HashSet;

/// Rewrites an OpenMetrics exposition as classic text (see the module docs).
pub fn from_openmetrics(text: &str) -> String {
    let counters: HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(text.len() + counters.len() * 16);
    for line in text.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(l.trim_end()),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_families_take_their_samples_name() {
        let om = "# HELP strata_requests Kafka requests served.\n\
                  # TYPE strata_requests counter\n\
                  strata_requests_total{api=\"Produce\"} 5\n\
                  # HELP strata_connections Open connections.\n\
                  # TYPE strata_connections gauge\n\
                  strata_connections 2\n\
                  # HELP x_seconds Latency.\n\
                  # TYPE x_seconds histogram\n\
                  # UNIT x_seconds seconds\n\
                  x_seconds_sum 0.5\n\
                  x_seconds_count 1\n\
                  x_seconds_bucket{le=\"+Inf\"} 1\n\
                  # EOF\n";
        let classic = from_openmetrics(om);
        assert_eq!(
            classic,
            "# HELP strata_requests_total Kafka requests served.\n\
             # TYPE strata_requests_total counter\n\
             strata_requests_total{api=\"Produce\"} 5\n\
             # HELP strata_connections Open connections.\n\
             # TYPE strata_connections gauge\n\
             strata_connections 2\n\
             # HELP x_seconds Latency.\n\
             # TYPE x_seconds histogram\n\
             x_seconds_sum 0.5\n\
             x_seconds_count 1\n\
             x_seconds_bucket{le=\"+Inf\"} 1\n"
        );
    }

    #[test]
    fn a_gauge_whose_name_ends_like_a_counter_is_left_alone() {
        let om = "# TYPE a gauge\na 1\n# TYPE a_total_x counter\na_total_x_total 2\n";
        assert_eq!(
            from_openmetrics(om),
            "# TYPE a gauge\na 1\n# TYPE a_total_x_total counter\na_total_x_total 2\n"
        );
    }
}
