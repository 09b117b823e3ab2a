//! The stats as Prometheus text exposition format: what every monitoring system reads.

// The names, help texts and helpers below are given, for your rendering in step 7.
#![allow(dead_code, unused_imports)]

use std::time::Duration;

use crate::{Op, Stats, upper_bound};

/// The histogram's metric family; its samples add `_bucket`, `_sum` and `_count`.
const LATENCY: &str = "kvlab_operation_duration_seconds";

impl Stats {
    // ANCHOR: render
    /// Step 7. The stats as Prometheus text exposition format, and nothing else: five
    /// metric families, in this order, each introduced by its `# HELP` and `# TYPE`
    /// lines as [`header`] writes them, then its samples, one per line:
    ///
    /// 1. `kvlab_operations_total` (counter, help [`OPERATIONS_HELP`]): one sample per
    ///    kind, `kvlab_operations_total{op="get"} 12`, in the order of [`Op::ALL`];
    /// 2. `kvlab_get_hits_total`, 3. `kvlab_get_misses_total`, 4. `kvlab_errors_total`
    ///    (counters, help [`HITS_HELP`], [`MISSES_HELP`], [`ERRORS_HELP`]): one sample
    ///    each, without labels;
    /// 5. `kvlab_operation_duration_seconds` (histogram, help [`LATENCY_HELP`]): for each
    ///    kind, in the same order, one `_bucket{op="get",le="..."}` line per bucket,
    ///    counting every sample at or below its bound (cumulative, so the `+Inf`
    ///    bucket counts them all), `le` being the bound written with
    ///    [`format_seconds`] or `+Inf` for the last; then `_sum{op="get"}` (the sum in
    ///    seconds, with [`format_seconds`]) and `_count{op="get"}`.
    ///
    /// The text says exactly what the stats say. Every line ends with `\n`.
    /// Book: "Step 7: render for Prometheus".
    pub fn render_prometheus(&self) -> String {
        todo!("step 7: Stats::render_prometheus")
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
