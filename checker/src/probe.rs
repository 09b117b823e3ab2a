//! Running a criterion in a child process, and never waiting on it forever.
//!
//! Learner code can deadlock, spin or abort; none of that may hang or crash the
//! checker. A stuck thread cannot be stopped from inside its own process, so every
//! criterion runs in a process of its own, which is killed at its deadline.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use probe_kit::protocol::{self, CriterionInfo, Message, Outcome};

/// How to start a probe: a program and the arguments that come before the probe's own.
#[derive(Clone)]
pub struct ProbeCommand {
    pub program: PathBuf,
    pub leading_args: Vec<String>,
}

/// What one run of a criterion came to, as seen from outside the probe.
pub enum Ended {
    Reported(Outcome),
    /// No outcome before the deadline.
    Hung {
        after: Duration,
    },
    /// The process ended without reporting: an abort, a stack overflow, a signal.
    Crashed {
        status: String,
    },
}

pub struct Run {
    pub ended: Ended,
    /// What the implementation printed itself (stdout lines that are not protocol,
    /// then stderr), kept as evidence.
    pub output: String,
    pub elapsed: Duration,
    /// The probe's last progress line: what was running when it failed, hung or died.
    pub last_progress: Option<String>,
}

impl ProbeCommand {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.program);
        command
            .args(&self.leading_args)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Reasons, not backtraces; and never write or accept a snapshot.
            .env("RUST_BACKTRACE", "0")
            .env("INSTA_UPDATE", "no")
            .env_remove("INSTA_FORCE_PASS");
        command
    }

    /// Asks the probe for its criteria.
    pub fn list(&self) -> Result<Vec<CriterionInfo>> {
        let output = self
            .command(&["list"])
            .output()
            .with_context(|| format!("cannot start the probe {}", self.program.display()))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        for line in stdout.lines() {
            if let Some(Message::Criteria { list }) = protocol::parse(line) {
                return Ok(list);
            }
        }
        bail!(
            "the probe {} did not list its criteria (exit {}): {}",
            self.program.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// Runs one criterion and waits for it at most `deadline`.
    pub fn run(&self, criterion: &str, seed: u64, deadline: Duration) -> Result<Run> {
        let started = Instant::now();
        let mut child = self
            .command(&["run", criterion, "--seed", &seed.to_string()])
            .spawn()
            .with_context(|| format!("cannot start the probe {}", self.program.display()))?;

        // Readers on their own threads, so a full pipe never blocks the probe and the
        // deadline below is the only wait.
        let (lines_tx, lines) = mpsc::channel::<String>();
        let stdout = child.stdout.take().context("probe stdout")?;
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().context("probe stderr")?;
        let stderr_reader = thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });

        let mut printed = Vec::new();
        let mut last_progress = None;
        let mut outcome = None;
        let hung = loop {
            let left = deadline.saturating_sub(started.elapsed());
            match lines.recv_timeout(left) {
                Ok(line) => match protocol::parse(&line) {
                    Some(Message::Progress { what }) => last_progress = Some(what),
                    Some(Message::Outcome { outcome: o }) => outcome = Some(o),
                    Some(Message::Criteria { .. }) => {}
                    None => printed.push(line),
                },
                Err(mpsc::RecvTimeoutError::Disconnected) => break false,
                Err(mpsc::RecvTimeoutError::Timeout) => break true,
            }
        };
        let elapsed = started.elapsed();
        let status = if hung {
            kill(&mut child)
        } else {
            wait_briefly(&mut child)
        };
        // After a kill the stderr pipe closes; after a clean exit it already has.
        let stderr_text = if status.is_some() {
            stderr_reader.join().unwrap_or_default()
        } else {
            String::new()
        };

        let ended = match (outcome, hung) {
            (Some(outcome), _) => Ended::Reported(outcome),
            (None, true) => Ended::Hung { after: elapsed },
            (None, false) => Ended::Crashed {
                status: status.map_or_else(|| "unknown".to_owned(), describe_status),
            },
        };
        let mut output = printed.join("\n");
        if !stderr_text.trim().is_empty() {
            output = format!("{output}\n{}", stderr_text.trim_end())
                .trim_start()
                .to_owned();
        }
        Ok(Run {
            ended,
            output,
            elapsed,
            last_progress,
        })
    }
}

fn kill(child: &mut Child) -> Option<ExitStatus> {
    let _ = child.kill();
    child.wait().ok()
}

/// The probe closed its stdout, so it is exiting; give it a moment, then make sure.
fn wait_briefly(child: &mut Child) -> Option<ExitStatus> {
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(_) => break,
        }
    }
    kill(child)
}

fn describe_status(status: ExitStatus) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                6 => " (SIGABRT: an abort, such as a panic while panicking)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV: a stack overflow or bad memory access)",
                _ => "",
            };
            return format!("was killed by signal {signal}{name}");
        }
    }
    match status.code() {
        Some(code) => format!("exited with status {code} before reporting"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in probe: a shell script playing the part of a misbehaving child.
    fn shell(script: &str) -> ProbeCommand {
        ProbeCommand {
            program: "sh".into(),
            // `sh -c SCRIPT NAME ARGS...`: the probe's own arguments land in $1...
            leading_args: vec!["-c".into(), script.into(), "probe".into()],
        }
    }

    #[test]
    fn an_outcome_and_the_programs_own_output_are_collected() {
        let script = r#"echo "learner says hi"; echo '@@kvlab {"kind":"progress","what":"step 1"}'; echo '@@kvlab {"kind":"outcome","outcome":{"status":"pass"}}'"#;
        let run = shell(script).run("c", 1, Duration::from_secs(10)).unwrap();
        assert!(matches!(run.ended, Ended::Reported(Outcome::Pass)));
        assert_eq!(run.output, "learner says hi");
    }

    #[test]
    fn a_probe_that_never_reports_is_killed_at_its_deadline_and_named() {
        let script =
            r#"echo '@@kvlab {"kind":"progress","what":"taking the write lock"}'; exec sleep 30"#;
        let started = Instant::now();
        let run = shell(script)
            .run("c", 1, Duration::from_millis(300))
            .unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the checker waited for the hang"
        );
        assert_eq!(run.last_progress.as_deref(), Some("taking the write lock"));
        match run.ended {
            Ended::Hung { .. } => {}
            _ => panic!("a hang was not reported as a hang"),
        }
    }

    #[test]
    fn a_probe_that_aborts_is_a_crash_with_its_signal() {
        let run = shell("echo 'fatal runtime error' >&2; kill -ABRT $$")
            .run("c", 1, Duration::from_secs(10))
            .unwrap();
        match run.ended {
            Ended::Crashed { status, .. } => assert!(status.contains("signal 6"), "{status}"),
            _ => panic!("an abort was not reported as a crash"),
        }
        assert!(run.output.contains("fatal runtime error"));
    }
}
