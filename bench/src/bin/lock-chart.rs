//! Turns the criterion results of the `lock_strategies` benchmark into the book's
//! table (`book/src/generated/lock-strategies.md`) and chart
//! (`book/src/img/lock-strategies.svg`). Run by `just bench-locks` after the bench.

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
const COLOURS: [&str; 6] = [
    "#9e9e9e", "#616161", "#90caf9", "#1e88e5", "#43a047", "#fb8c00",
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
    let out = root.join("book/src/generated");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("lock-strategies.md"), table(&results)).unwrap();
    fs::write(
        root.join("book/src/img/lock-strategies.svg"),
        chart(&results),
    )
    .unwrap();
    println!("wrote book/src/generated/lock-strategies.md and book/src/img/lock-strategies.svg");
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

fn machine() -> String {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpu}; {}", kvlab_bench::machine())
}

fn table(results: &Results) -> String {
    let threads: Vec<usize> = results
        .values()
        .flat_map(|s| s.values().flat_map(|t| t.keys().copied()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut out = format!(
        "Measured on {}. Millions of operations per second (median of 10 samples, higher is better).\n\n",
        machine()
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
                .map(|t| by_threads.get(t).map_or("-".into(), |m| format!("{m:.2}")))
                .collect();
            let _ = writeln!(out, "| {name} | {} |", cells.join(" | "));
        }
        out.push('\n');
    }
    out
}

/// One panel per read ratio; in each, a group of bars per thread count.
fn chart(results: &Results) -> String {
    let (panel_w, panel_h, top, left, gap) = (300.0, 220.0, 40.0, 50.0, 30.0);
    let width = left + results.len() as f64 * (panel_w + gap) + 10.0;
    let height = top + panel_h + 90.0;
    let max = results
        .values()
        .flat_map(|s| s.values().flat_map(|t| t.values().copied()))
        .fold(0.0, f64::max);
    let scale = nice_ceiling(max);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"11\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">Throughput of six lock strategies (million ops/s, higher is better)</text>\n"
    );
    for (panel, (read_percent, strategies)) in results.iter().enumerate() {
        let x0 = left + panel as f64 * (panel_w + gap);
        let base = top + panel_h;
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{read_percent}% reads</text>",
            x0 + panel_w / 2.0,
            top - 8.0
        );
        for tick in 0..=4 {
            let value = scale * tick as f64 / 4.0;
            let y = base - panel_h * tick as f64 / 4.0;
            let _ = writeln!(
                svg,
                "<line x1=\"{x0}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#e0e0e0\"/>",
                x0 + panel_w
            );
            if panel == 0 {
                let _ = writeln!(
                    svg,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{value:.1}</text>",
                    x0 - 4.0,
                    y + 4.0
                );
            }
        }
        let threads: Vec<usize> = strategies
            .values()
            .flat_map(|t| t.keys().copied())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let group_w = panel_w / threads.len() as f64;
        let bar_w = (group_w - 16.0) / STRATEGIES.len() as f64;
        for (g, t) in threads.iter().enumerate() {
            let gx = x0 + g as f64 * group_w + 8.0;
            for (s, name) in STRATEGIES.iter().enumerate() {
                let Some(value) = strategies.get(*name).and_then(|by| by.get(t)) else {
                    continue;
                };
                let h = panel_h * value / scale;
                let _ = writeln!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{}\"><title>{name}, {t} threads, {read_percent}% reads: {value:.2} M ops/s</title></rect>",
                    gx + s as f64 * bar_w,
                    base - h,
                    bar_w - 1.0,
                    COLOURS[s]
                );
            }
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{t} thread{}</text>",
                gx + (group_w - 16.0) / 2.0,
                base + 14.0,
                if *t == 1 { "" } else { "s" }
            );
        }
    }
    for (s, name) in STRATEGIES.iter().enumerate() {
        let x = left + (s % 3) as f64 * 200.0;
        let y = top + panel_h + 40.0 + (s / 3) as f64 * 18.0;
        let _ = writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{name}</text>",
            y - 10.0,
            COLOURS[s],
            x + 18.0,
            y
        );
    }
    svg + "</svg>\n"
}

/// The axis top: `max` rounded up to a half power of ten (11.4 becomes 15).
fn nice_ceiling(max: f64) -> f64 {
    let step = 10f64.powf(max.log10().floor()) / 2.0;
    (max / step).ceil() * step
}
