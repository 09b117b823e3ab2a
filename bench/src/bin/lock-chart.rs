//! Turns the criterion results of the `lock_strategies` benchmark into the book's
//! table (`book/src/generated/lock-strategies.md`) and chart
//! (`book/src/img/lock-strategies.svg`). Run by `just bench-locks` after the bench:
//!
//!     cargo bench -p kvlab-bench --bench lock_strategies
//!     cargo run --release -q -p kvlab-bench --bin lock-chart

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Throughput in millions of operations per second, by read ratio, strategy, threads.
type Results = BTreeMap<u32, BTreeMap<String, BTreeMap<usize, f64>>>;

const OPS_PER_ITERATION: f64 = 20_000.0;
const STRATEGIES: [&str; 6] = [
    "std Mutex",
    "parking_lot Mutex",
    "std RwLock",
    "parking_lot RwLock",
    "striped x16",
    "copy-on-write",
];

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let criterion = root.join("target/criterion");
    let results = collect(&criterion);
    assert!(
        !results.is_empty(),
        "no results under {}: run the benchmark first",
        criterion.display()
    );
    let mut report = kvlab_bench::Report::new(
        "lock-strategies",
        "cargo bench -p kvlab-bench --bench lock_strategies && cargo run --release -q -p kvlab-bench --bin lock-chart",
    );
    for line in table(&results).lines() {
        report.line(line);
    }
    report.write();
    fs::write(
        root.join("book/src/img/lock-strategies.svg"),
        chart(&results),
    )
    .unwrap();
    println!("wrote book/src/img/lock-strategies.svg");
}

fn collect(dir: &Path) -> Results {
    let mut results = Results::new();
    for file in walk(dir)
        .into_iter()
        .filter(|p| p.ends_with("new/benchmark.json"))
    {
        let meta: Value = serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
        let estimates = file.with_file_name("estimates.json");
        let estimates: Value =
            serde_json::from_str(&fs::read_to_string(estimates).unwrap()).unwrap();
        let (Some(group), Some(strategy), Some(threads)) = (
            meta["group_id"].as_str(),
            meta["function_id"].as_str(),
            meta["value_str"].as_str(),
        ) else {
            continue;
        };
        let Some(read_percent) = group.strip_prefix("reads").and_then(|p| p.parse().ok()) else {
            continue;
        };
        let nanos = estimates["median"]["point_estimate"].as_f64().unwrap();
        let mops = OPS_PER_ITERATION / nanos * 1e3;
        results
            .entry(read_percent)
            .or_default()
            .entry(strategy.to_owned())
            .or_default()
            .insert(threads.parse().unwrap(), mops);
    }
    results
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return vec![];
    };
    entries
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                vec![e.path()]
            }
        })
        .collect()
}

fn threads_of(results: &Results) -> Vec<usize> {
    results
        .values()
        .flat_map(|s| s.values().flat_map(|t| t.keys().copied()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// A throughput as the table and the chart print it: two decimals below 1, else
/// three significant figures at most.
fn figure(mops: f64) -> String {
    if mops < 1.0 {
        format!("{mops:.3}")
    } else {
        format!("{mops:.2}")
    }
}

fn table(results: &Results) -> String {
    let threads = threads_of(results);
    let mut out = String::from(
        "Millions of operations per second, the median of 10 samples (higher is better).\n\n",
    );
    for (read_percent, strategies) in results {
        let _ = writeln!(out, "**{read_percent}% reads**\n");
        let header: Vec<String> = threads
            .iter()
            .map(|t| format!("{t} thread{}", if *t == 1 { "" } else { "s" }))
            .collect();
        let _ = writeln!(out, "| strategy | {} |", header.join(" | "));
        let _ = writeln!(out, "|---|{}", "---:|".repeat(threads.len()));
        for name in STRATEGIES {
            let Some(by_threads) = strategies.get(name) else {
                continue;
            };
            let cells: Vec<String> = threads
                .iter()
                .map(|t| by_threads.get(t).map_or("-".into(), |m| figure(*m)))
                .collect();
            let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
        }
        out.push('\n');
    }
    out
}

/// One panel per read ratio, stacked; in each, one row per strategy with a bar
/// per thread count, on a logarithmic scale (copy-on-write is two orders of
/// magnitude below the rest at 50% reads). Drawn at the book's text width
/// (750 px), so one unit is one pixel and no text is smaller than 12 px.
fn chart(results: &Results) -> String {
    let threads = threads_of(results);
    let (width, label_w, right) = (750.0, 150.0, 56.0);
    let plot_w = width - label_w - right;
    let (bar_h, bar_gap, row_gap) = (9.0, 1.0, 8.0);
    let row_h = threads.len() as f64 * (bar_h + bar_gap) + row_gap;
    let panel_h = 28.0 + STRATEGIES.len() as f64 * row_h + 30.0;
    let top = 78.0;
    let height = top + results.len() as f64 * panel_h + 10.0;
    let values: Vec<f64> = results
        .values()
        .flat_map(|s| s.values().flat_map(|t| t.values().copied()))
        .collect();
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    // Round decades: from the power of ten at or below the smallest value to the one
    // at or above the largest.
    let (lo, hi) = (min.log10().floor() as i32, max.log10().ceil() as i32);
    let x = |v: f64| label_w + plot_w * (v.log10() - lo as f64) / (hi - lo) as f64;
    let shades = ["#90caf9", "#1e88e5", "#0d47a1"];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" \
         role=\"img\" font-family=\"system-ui, sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">Throughput of six lock strategies, million operations per second</text>\n\
         <text x=\"10\" y=\"42\" fill=\"#52606d\">logarithmic scale: each grid line is ten times the one before; higher is better</text>\n"
    );
    for (i, t) in threads.iter().enumerate() {
        let lx = 10.0 + i as f64 * 110.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{lx}\" y=\"54\" width=\"14\" height=\"14\" fill=\"{}\"/><text x=\"{}\" y=\"66\">{t} thread{}</text>",
            shades[i % shades.len()],
            lx + 20.0,
            if *t == 1 { "" } else { "s" }
        );
    }
    for (panel, (read_percent, strategies)) in results.iter().enumerate() {
        let y0 = top + panel as f64 * panel_h;
        let plot_top = y0 + 28.0;
        let plot_bottom = plot_top + STRATEGIES.len() as f64 * row_h;
        let _ = writeln!(
            svg,
            "<text x=\"10\" y=\"{}\" font-size=\"15\" font-weight=\"bold\">{read_percent}% reads</text>",
            y0 + 18.0
        );
        for decade in lo..=hi {
            let v = 10f64.powi(decade);
            let gx = x(v);
            let label = if decade < 0 {
                format!("{v:.*}", (-decade) as usize)
            } else {
                format!("{v:.0}")
            };
            let _ = writeln!(
                svg,
                "<line x1=\"{gx:.1}\" x2=\"{gx:.1}\" y1=\"{plot_top}\" y2=\"{plot_bottom}\" stroke=\"#cbd2d9\"/>\
                 <text x=\"{gx:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#3e4c59\">{label}</text>",
                plot_bottom + 16.0
            );
        }
        for (s, name) in STRATEGIES.iter().enumerate() {
            let ry = plot_top + s as f64 * row_h;
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{name}</text>",
                label_w - 8.0,
                ry + row_h / 2.0 + 1.0
            );
            for (i, t) in threads.iter().enumerate() {
                let Some(value) = strategies.get(*name).and_then(|by| by.get(t)) else {
                    continue;
                };
                let by = ry + i as f64 * (bar_h + bar_gap);
                let end = x(*value);
                let _ = writeln!(
                    svg,
                    "<rect x=\"{label_w}\" y=\"{by:.1}\" width=\"{:.1}\" height=\"{bar_h}\" fill=\"{}\"><title>{name}, {t} thread{}, {read_percent}% reads: {} M ops/s</title></rect>",
                    (end - label_w).max(1.0),
                    shades[i % shades.len()],
                    if *t == 1 { "" } else { "s" },
                    figure(*value)
                );
            }
            // The best of the row, printed: enough to read the scale off.
            if let Some(best) = strategies
                .get(*name)
                .map(|by| by.values().copied().fold(0.0, f64::max))
            {
                let _ = writeln!(
                    svg,
                    "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\" fill=\"#3e4c59\">{}</text>",
                    x(best) + 4.0,
                    ry + row_h / 2.0 + 1.0,
                    figure(best)
                );
            }
        }
    }
    svg + "</svg>\n"
}
