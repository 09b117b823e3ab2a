//! A small validator for the Prometheus text exposition format (version 0.0.4), as
//! strict as the course needs: every metric family has `# HELP` and `# TYPE` before
//! its samples, names and labels follow the grammar, a counter's name ends in
//! `_total`, and a histogram's buckets are cumulative and end with `le="+Inf"`,
//! which equals its `_count`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A parsed exposition: its samples, in order, with the family each belongs to.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Family name and type, in the order they appear.
    pub families: Vec<(String, String)>,
    pub samples: Vec<Sample>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub line: usize,
    pub family: String,
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// The value as written, for the checks a float cannot make (a sum exact to
    /// the nanosecond).
    pub text: String,
}

/// The first problem found, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub line: usize,
    pub text: String,
    pub problem: String,
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.problem)
        } else {
            write!(f, "line {} `{}`: {}", self.line, self.text, self.problem)
        }
    }
}

const TYPES: [&str; 5] = ["counter", "gauge", "histogram", "summary", "untyped"];

impl Exposition {
    /// The value of the sample with exactly this name and these labels (in any order).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.sample(name, labels).map(|s| s.value)
    }

    /// The sample with exactly this name and these labels (in any order).
    pub fn sample(&self, name: &str, labels: &[(&str, &str)]) -> Option<&Sample> {
        let wanted: BTreeSet<(&str, &str)> = labels.iter().copied().collect();
        self.samples.iter().find(|s| {
            s.name == name
                && s.labels
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect::<BTreeSet<_>>()
                    == wanted
        })
    }

    pub fn family_type(&self, name: &str) -> Option<&str> {
        self.families
            .iter()
            .find(|(family, _)| family == name)
            .map(|(_, kind)| kind.as_str())
    }
}

/// Parses and checks `text`; the first problem found is the error.
pub fn validate(text: &str) -> Result<Exposition, Malformed> {
    let mut parser = Parser::default();
    // `split_inclusive`, not `lines`: the format ends every line with `\n` alone,
    // the last one too, and `lines` would forgive a missing one or a `\r\n`.
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let line = raw.strip_suffix('\n');
        let problem = match line {
            None => {
                Some("the last line does not end with `\\n`: in this format every line does".into())
            }
            Some(line) if line.ends_with('\r') => Some(
                "the line ends with `\\r\\n`: this format separates lines with `\\n` alone".into(),
            ),
            Some(line) => parser.line(number, line).err(),
        };
        if let Some(problem) = problem {
            return Err(Malformed {
                line: number,
                text: raw.trim_end().to_owned(),
                problem,
            });
        }
    }
    parser.finish()
}

#[derive(Default)]
struct Family {
    help: bool,
    kind: Option<String>,
    /// Whether a sample of this family has been seen; then its group has begun.
    sampled: bool,
}

#[derive(Default)]
struct Parser {
    families: BTreeMap<String, Family>,
    order: Vec<String>,
    /// The family whose lines are being read; a family's lines form one group.
    current: Option<String>,
    closed: BTreeSet<String>,
    series: BTreeSet<String>,
    samples: Vec<Sample>,
}

impl Parser {
    fn line(&mut self, number: usize, line: &str) -> Result<(), String> {
        if line.trim().is_empty() {
            return Ok(());
        }
        if let Some(comment) = line.strip_prefix('#') {
            return self.comment(comment);
        }
        let sample = parse_sample(number, line)?;
        let family = self.family_of(&sample.name)?;
        self.enter(&family)?;
        let entry = self.families.get_mut(&family).expect("family_of found it");
        if !entry.help {
            return Err(format!(
                "no `# HELP {family}` line before the first sample of `{family}`"
            ));
        }
        let kind = entry.kind.clone().unwrap_or_default();
        entry.sampled = true;
        if kind == "counter" && (sample.value < 0.0 || sample.value.is_nan()) {
            return Err("a counter's value must be a number, 0 or more".into());
        }
        if kind == "histogram"
            && sample.name.ends_with("_bucket")
            && !sample.labels.iter().any(|(k, _)| k == "le")
        {
            return Err("a histogram bucket needs an `le` label (its upper bound)".into());
        }
        let mut key: Vec<String> = sample
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        key.sort();
        if !self
            .series
            .insert(format!("{}{{{}}}", sample.name, key.join(",")))
        {
            return Err("the same series (name and labels) appears twice".into());
        }
        self.samples.push(Sample { family, ..sample });
        Ok(())
    }

    fn comment(&mut self, comment: &str) -> Result<(), String> {
        let mut words = comment.trim_start_matches(' ').splitn(3, ' ');
        let keyword = words.next().unwrap_or_default();
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(()); // any other comment is allowed, and ignored
        }
        let name = words.next().unwrap_or_default();
        let rest = words.next().unwrap_or_default();
        if !is_metric_name(name) {
            return Err(format!(
                "`{name}` is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
            ));
        }
        self.enter(name)?;
        let family = self.families.entry(name.to_owned()).or_default();
        if family.sampled {
            return Err(format!(
                "# {keyword} for `{name}` comes after its samples; it must come before"
            ));
        }
        if keyword == "HELP" {
            if family.help {
                return Err(format!("a second # HELP line for `{name}`"));
            }
            family.help = true;
            return Ok(());
        }
        if family.kind.is_some() {
            return Err(format!("a second # TYPE line for `{name}`"));
        }
        if !TYPES.contains(&rest) {
            return Err(format!(
                "`{rest}` is not a metric type (one of {})",
                TYPES.join(", ")
            ));
        }
        if rest == "counter" && !name.ends_with("_total") {
            return Err(format!(
                "a counter's name ends in `_total`; `{name}` does not"
            ));
        }
        family.kind = Some(rest.to_owned());
        Ok(())
    }

    /// Starts or continues the group of lines of `family`.
    fn enter(&mut self, family: &str) -> Result<(), String> {
        if self.current.as_deref() == Some(family) {
            return Ok(());
        }
        if self.closed.contains(family) {
            return Err(format!(
                "the lines of `{family}` are split in two groups; a family's lines must be together"
            ));
        }
        if let Some(previous) = self.current.replace(family.to_owned()) {
            self.closed.insert(previous);
        }
        if !self.order.iter().any(|f| f == family) {
            self.order.push(family.to_owned());
        }
        Ok(())
    }

    /// The family a sample name belongs to: declared by a `# TYPE` line before it.
    fn family_of(&self, name: &str) -> Result<String, String> {
        let typed = |family: &str| self.families.get(family).and_then(|f| f.kind.clone());
        if let Some(kind) = typed(name) {
            return match kind.as_str() {
                "histogram" => Err(format!(
                    "a histogram's samples are named `{name}_bucket`, `{name}_sum` and `{name}_count`, not `{name}`"
                )),
                _ => Ok(name.to_owned()),
            };
        }
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = name.strip_suffix(suffix) {
                match typed(base).as_deref() {
                    Some("histogram") => return Ok(base.to_owned()),
                    Some("summary") if suffix != "_bucket" => return Ok(base.to_owned()),
                    _ => {}
                }
            }
        }
        Err(format!("no `# TYPE {name} ...` line before this sample"))
    }

    fn finish(self) -> Result<Exposition, Malformed> {
        let families = self
            .order
            .iter()
            .map(|name| {
                let kind = self.families[name].kind.clone();
                let kind = kind.ok_or_else(|| Malformed {
                    line: 0,
                    text: String::new(),
                    problem: format!("`{name}` has no # TYPE line"),
                })?;
                Ok((name.clone(), kind))
            })
            .collect::<Result<Vec<_>, Malformed>>()?;
        for (name, kind) in &families {
            if kind == "histogram" {
                check_histogram(name, &self.samples)?;
            }
        }
        Ok(Exposition {
            families,
            samples: self.samples,
        })
    }
}

/// Buckets per series strictly increasing in `le`, cumulative, ending with `+Inf`,
/// which equals `_count`; `_sum` and `_count` present.
fn check_histogram(family: &str, samples: &[Sample]) -> Result<(), Malformed> {
    let at = |sample: &Sample, problem: String| Malformed {
        line: sample.line,
        text: render(sample),
        problem,
    };
    let mut series: BTreeMap<Vec<(String, String)>, Vec<&Sample>> = BTreeMap::new();
    for sample in samples.iter().filter(|s| s.family == family) {
        let mut labels: Vec<_> = sample
            .labels
            .iter()
            .filter(|(k, _)| k != "le")
            .cloned()
            .collect();
        labels.sort();
        series.entry(labels).or_default().push(sample);
    }
    for (labels, lines) in series {
        let shown = labels
            .iter()
            .map(|(k, v)| format!("{k}=\"{v}\""))
            .collect::<Vec<_>>()
            .join(",");
        let missing = |what: &str| Malformed {
            line: 0,
            text: String::new(),
            problem: format!("histogram `{family}` {{{shown}}} has no {what}"),
        };
        let buckets: Vec<&Sample> = lines
            .iter()
            .copied()
            .filter(|s| s.name.ends_with("_bucket"))
            .collect();
        let count = lines
            .iter()
            .find(|s| s.name.ends_with("_count"))
            .ok_or_else(|| missing("_count sample"))?;
        lines
            .iter()
            .find(|s| s.name.ends_with("_sum"))
            .ok_or_else(|| missing("_sum sample"))?;
        let last = buckets.last().ok_or_else(|| missing("buckets"))?;
        let mut previous: Option<(f64, f64)> = None;
        for bucket in &buckets {
            let le_text = &bucket
                .labels
                .iter()
                .find(|(k, _)| k == "le")
                .expect("checked while parsing")
                .1;
            let le =
                parse_value(le_text).map_err(|p| at(bucket, format!("le=\"{le_text}\": {p}")))?;
            if let Some((previous_le, previous_count)) = previous {
                if le <= previous_le {
                    return Err(at(
                        bucket,
                        format!(
                            "le must grow from bucket to bucket; {le_text} follows a bucket at or above it"
                        ),
                    ));
                }
                if bucket.value < previous_count {
                    return Err(at(
                        bucket,
                        format!(
                            "buckets are cumulative (each counts every sample at or below its bound), \
                             so a bucket never holds fewer than the one before: {} after {previous_count}",
                            bucket.value
                        ),
                    ));
                }
            }
            previous = Some((le, bucket.value));
        }
        if previous.map(|(le, _)| le) != Some(f64::INFINITY) {
            return Err(at(
                last,
                "the last bucket of a histogram is le=\"+Inf\"".into(),
            ));
        }
        if last.value != count.value {
            return Err(at(
                last,
                format!(
                    "the +Inf bucket counts every sample, so it equals _count ({})",
                    count.value
                ),
            ));
        }
    }
    Ok(())
}

fn render(sample: &Sample) -> String {
    let labels: Vec<String> = sample
        .labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\""))
        .collect();
    format!("{}{{{}}} {}", sample.name, labels.join(","), sample.value)
}

fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

/// A sample's value: a decimal number, or `+Inf`, `-Inf`, `NaN`.
fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => return Ok(f64::INFINITY),
        "-Inf" => return Ok(f64::NEG_INFINITY),
        "NaN" => return Ok(f64::NAN),
        _ => {}
    }
    let numeric = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || "+-.eE".contains(c))
        && text.chars().any(|c| c.is_ascii_digit());
    match text.parse::<f64>() {
        Ok(value) if numeric => Ok(value),
        _ => Err(format!(
            "`{text}` is not a number (write a decimal, +Inf, -Inf or NaN)"
        )),
    }
}

/// `name{label="value",...} value [timestamp]`
fn parse_sample(line_number: usize, line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err(format!(
            "`{name}` is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"
        ));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    let Some(rest) = rest.strip_prefix(' ') else {
        return Err("a space and a value must follow the name and labels".into());
    };
    let mut fields = rest
        .trim_start_matches(' ')
        .split(' ')
        .filter(|f| !f.is_empty());
    let text = fields.next().unwrap_or_default();
    let value = parse_value(text)?;
    if let Some(timestamp) = fields.next()
        && timestamp.parse::<i64>().is_err()
    {
        return Err(format!(
            "`{timestamp}` after the value is not a timestamp (milliseconds)"
        ));
    }
    if fields.next().is_some() {
        return Err("unexpected text after the value".into());
    }
    Ok(Sample {
        line: line_number,
        family: String::new(),
        name: name.to_owned(),
        labels,
        value,
        text: text.to_owned(),
    })
}

type Labels = Vec<(String, String)>;

/// Parses `a="x",b="y"}` (after the opening brace); returns the labels and the rest.
fn parse_labels(mut rest: &str) -> Result<(Labels, &str), String> {
    let mut labels: Labels = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest
            .find('=')
            .ok_or("a label is written name=\"value\" and the list ends with `}`")?;
        let name = &rest[..eq];
        if !is_label_name(name) {
            return Err(format!(
                "`{name}` is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
            ));
        }
        let Some(quoted) = rest[eq + 1..].strip_prefix('"') else {
            return Err(format!(
                "the value of label `{name}` must be in double quotes"
            ));
        };
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err(format!("the value of label `{name}` has no closing quote")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    _ => {
                        return Err(format!(
                            "label `{name}`: only \\\\, \\\" and \\n may be escaped"
                        ));
                    }
                },
                Some((_, c)) => value.push(c),
            }
        };
        if labels.iter().any(|(k, _)| k == name) {
            return Err(format!("label `{name}` appears twice"));
        }
        labels.push((name.to_owned(), value));
        rest = &quoted[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err("labels are separated by commas and the list ends with `}`".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{op=\"get\"} 3
requests_total{op=\"set\",} 1
# A free comment.
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{op=\"get\",le=\"0.5\"} 1
latency_seconds_bucket{op=\"get\",le=\"1\"} 2
latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 3
latency_seconds_sum{op=\"get\"} 4.25
latency_seconds_count{op=\"get\"} 3
";

    #[test]
    fn a_valid_text_parses() {
        let parsed = validate(GOOD).unwrap();
        assert_eq!(parsed.value("requests_total", &[("op", "get")]), Some(3.0));
        assert_eq!(
            parsed.value("latency_seconds_count", &[("op", "get")]),
            Some(3.0)
        );
        assert_eq!(parsed.family_type("latency_seconds"), Some("histogram"));
    }

    #[test]
    fn each_kind_of_mistake_is_named() {
        let cases = [
            (
                "requests_total{op=\"get\"} 3",
                "requests_total{op=get} 3",
                "double quotes",
            ),
            (
                "requests_total{op=\"get\"} 3",
                "requests-total{op=\"get\"} 3",
                "metric name",
            ),
            (
                "requests_total{op=\"get\"} 3",
                "requests_total{op=\"get\"}",
                "a space and a value",
            ),
            (
                "requests_total{op=\"get\"} 3",
                "requests_total{op=\"get\"} three",
                "not a number",
            ),
            (
                "# TYPE requests_total counter",
                "# TYPE requests counter",
                "_total",
            ),
            (
                "# TYPE requests_total counter",
                "# TYPE requests_total countr",
                "not a metric type",
            ),
            (
                "# HELP latency_seconds Latency.\n",
                "",
                "no `# HELP latency_seconds`",
            ),
            (
                "le=\"+Inf\"} 3",
                "le=\"+Inf\"} 4",
                "+Inf bucket counts every sample",
            ),
            ("le=\"1\"} 2", "le=\"1\"} 0", "cumulative"),
            ("le=\"+Inf\"} 3", "le=\"2\"} 3", "le=\"+Inf\""),
            ("le=\"1\"} 2", "le=\"0.25\"} 2", "must grow"),
            ("latency_seconds_sum{op=\"get\"} 4.25\n", "", "no _sum"),
            ("{op=\"set\",}", "{op=\"set\",op=\"del\"}", "twice"),
            (
                "_count{op=\"get\"} 3\n",
                "_count{op=\"get\"} 3",
                "does not end with",
            ),
            ("# A free comment.\n", "# A free comment.\r\n", "alone"),
        ];
        for (from, to, needle) in cases {
            let text = GOOD.replacen(from, to, 1);
            assert_ne!(text, GOOD, "{from}");
            let error = validate(&text).expect_err(to).to_string();
            assert!(error.contains(needle), "{to}: {error}");
        }
    }

    #[test]
    fn help_after_samples_and_split_groups_are_rejected() {
        let late = GOOD
            .replacen("# HELP requests_total Requests.\n", "", 1)
            .replacen(
                "requests_total{op=\"set\",} 1\n",
                "requests_total{op=\"set\",} 1\n# HELP requests_total Requests.\n",
                1,
            );
        assert!(validate(&late).is_err());
        let split = format!("{GOOD}requests_total{{op=\"del\"}} 1\n");
        assert!(
            validate(&split)
                .unwrap_err()
                .to_string()
                .contains("two groups")
        );
    }
}
