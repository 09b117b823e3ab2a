//! What a check shows while it runs: the report, one criterion at a time, and on a
//! terminal a status line that says what is being built or run, and for how long.
//!
//! The report goes to stdout exactly as `report::render_text` would print it; the
//! status line goes to stderr, only when stderr is a terminal, and is cleared before
//! anything else is printed. Piped or with `NO_COLOR`, the output is plain text.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use probe_kit::Info;

use crate::check::Watcher;
use crate::report::{self, CriterionReport, Report};

/// How long a criterion runs before the status line shows it.
const SHOW_AFTER: Duration = Duration::from_millis(500);

pub struct Terminal {
    /// Draw a status line on stderr.
    live: bool,
    width: usize,
    /// Said once, when stderr is not a terminal, that a build is going on.
    told_building: bool,
    status_shown: bool,
}

impl Terminal {
    pub fn new() -> Self {
        Terminal {
            live: std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
            width: 0,
            told_building: false,
            status_shown: false,
        }
    }

    fn status(&mut self, text: &str) {
        if !self.live {
            return;
        }
        let text: String = text.chars().take(100).collect();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{text}");
        let _ = err.flush();
        self.status_shown = true;
    }

    fn clear_status(&mut self) {
        if self.status_shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.status_shown = false;
        }
    }

    fn print(&mut self, text: &str) {
        self.clear_status();
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    /// The end of the report: the count, and what to run next.
    pub fn finish(&mut self, report: &Report, replay: &str) {
        let rest = match report::render_blocked(report) {
            Some(blocked) => blocked,
            None => report::render_footer(report, replay),
        };
        self.print(&rest);
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Terminal::new()
    }
}

impl Watcher for Terminal {
    fn building(&mut self, status: &str) {
        if self.live {
            self.status(&format!("building the probe for your crate: {status}"));
        } else if !self.told_building {
            eprintln!("building the probe for your crate ...");
            self.told_building = true;
        }
    }

    fn started(&mut self, report: &Report, criteria: &[&Info]) {
        self.width = report::id_width(criteria.iter().map(|c| c.id));
        self.print(&report::render_header(report));
    }

    fn running(&mut self, info: &Info, doing: Option<&str>, elapsed: Duration) {
        if elapsed < SHOW_AFTER {
            return;
        }
        let doing = doing.map(|d| format!(": {d}")).unwrap_or_default();
        self.status(&format!(
            "  ....  {:<width$}  {:.0}s of its {}s deadline{doing}",
            info.id,
            elapsed.as_secs_f64(),
            info.deadline_secs,
            width = self.width
        ));
    }

    fn finished(&mut self, criterion: &CriterionReport) {
        let text = report::render_criterion(criterion, self.width);
        self.print(&text);
    }
}
