//! The stats as Prometheus text exposition format: what every monitoring system reads.

use std::time::Duration;

use crate::{Op, Stats, upper_bound};

/// The histogram's metric family; its samples add `_bucket`, `_sum` and `_count`.
const LATENCY: &str = "kvlab_operation_duration_seconds";

impl Stats {
    // ANCHOR: render
    /// The stats as text: for each metric family a `# HELP` and a `# TYPE` line,
    /// then its samples, one per line.
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();

        header(
            &mut out,
            "kvlab_operations_total",
            "counter",
            OPERATIONS_HELP,
        );
        for op in Op::ALL {
            let (label, value) = (op.label(), self.operations(op));
            out += &format!("kvlab_operations_total{{op=\"{label}\"}} {value}\n");
        }

        for (name, help, value) in [
            ("kvlab_get_hits_total", HITS_HELP, self.hits),
            ("kvlab_get_misses_total", MISSES_HELP, self.misses),
            ("kvlab_errors_total", ERRORS_HELP, self.errors),
        ] {
            header(&mut out, name, "counter", help);
            out += &format!("{name} {value}\n");
        }

        header(&mut out, LATENCY, "histogram", LATENCY_HELP);
        for op in Op::ALL {
            let (label, histogram) = (op.label(), self.latency(op));
            // Prometheus buckets are cumulative: each counts every sample at or
            // below its bound, so the last one (+Inf) is the count of all samples.
            let mut cumulative = 0;
            for (index, samples) in histogram.buckets.iter().enumerate() {
                cumulative += samples;
                let le = upper_bound(index).map_or("+Inf".into(), format_seconds);
                out += &format!("{LATENCY}_bucket{{op=\"{label}\",le=\"{le}\"}} {cumulative}\n");
            }
            let sum = format_seconds(histogram.sum());
            out += &format!("{LATENCY}_sum{{op=\"{label}\"}} {sum}\n");
            out += &format!("{LATENCY}_count{{op=\"{label}\"}} {cumulative}\n");
        }
        out
    }
    // ANCHOR_END: render
}

const OPERATIONS_HELP: &str = "Operations issued to the store, by kind, rejected ones included.";
const HITS_HELP: &str = "GET operations that found a live value.";
const MISSES_HELP: &str = "GET operations that found no live value.";
const ERRORS_HELP: &str = "Operations rejected before they reached the state machine.";
const LATENCY_HELP: &str = "Time from call to answer, waiting for the store's lock included.";

/// The two lines that introduce a metric family.
fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    *out += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n");
}

/// A duration in seconds, exactly, in plain decimal: `0.000004`, `2.5`, `0`.
/// Prometheus measures time in seconds; printing from whole nanoseconds avoids
/// floating-point noise such as `0.000004000000000000001`.
pub fn format_seconds(duration: Duration) -> String {
    let (secs, nanos) = (duration.as_secs(), duration.subsec_nanos());
    if nanos == 0 {
        return secs.to_string();
    }
    let fraction = format!("{nanos:09}");
    format!("{secs}.{}", fraction.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metrics, Rejected, Response};

    #[test]
    fn seconds_are_exact() {
        assert_eq!(format_seconds(Duration::ZERO), "0");
        assert_eq!(format_seconds(Duration::from_micros(4)), "0.000004");
        assert_eq!(format_seconds(Duration::from_millis(2_500)), "2.5");
        assert_eq!(format_seconds(Duration::from_nanos(1)), "0.000000001");
    }

    #[test]
    fn buckets_are_cumulative_and_end_with_the_count() {
        let metrics = Metrics::new();
        let found: Result<Response, Rejected> = Ok(Response::NotFound);
        metrics.record(Op::Get, &found, Duration::from_micros(3));
        metrics.record(Op::Get, &found, Duration::from_secs(9));
        let text = metrics.stats().render_prometheus();
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
                .to_owned()
        };
        assert_eq!(
            line(&format!("{LATENCY}_bucket{{op=\"get\",le=\"0.000004\"}}"))
                .split(' ')
                .nth(1),
            Some("1")
        );
        assert!(line(&format!("{LATENCY}_bucket{{op=\"get\",le=\"+Inf\"}}")).ends_with(" 2"));
        assert!(line(&format!("{LATENCY}_count{{op=\"get\"}}")).ends_with(" 2"));
        assert!(line(&format!("{LATENCY}_sum{{op=\"get\"}}")).ends_with(" 9.000003"));
        assert!(line("kvlab_get_misses_total").ends_with(" 2"));
    }
}
