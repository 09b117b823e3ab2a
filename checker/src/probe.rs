//! Running a criterion in a child process, never waiting on it forever, and
//! believing only what arrives on the harness's own channel.
//!
//! Learner code can deadlock, spin, abort, print anything, or pretend to be the
//! harness; none of that may hang the checker or turn into a PASS. A stuck thread
//! cannot be stopped from inside its own process, so every criterion runs in a
//! process of its own, which is killed at its deadline. The outcome travels on a
//! Unix socket that only the harness can write to (see `probe_kit::protocol` for
//! why), opened with a secret made for this one run; stdout and stderr are kept as
//! the learner's output, bounded, and never parsed.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use probe_kit::protocol::{self, Message, Outcome, Request};

/// How much of each of stdout and stderr is kept as evidence; the rest is counted
/// and dropped, so a print loop in learner code cannot eat the checker's memory.
pub const OUTPUT_KEPT: usize = 16 * 1024;

/// How long a probe may take to exit after sending its outcome. The harness exits
/// at once; this only has to absorb a busy machine.
const EXIT_GRACE: Duration = Duration::from_secs(5);

/// How often a waiting run tells its watcher how long it has been going.
const TICK: Duration = Duration::from_millis(200);

/// Told, every [`TICK`] and on every progress line, what a running criterion is doing
/// and how long it has been running.
pub type Tick<'a> = &'a mut dyn FnMut(Option<&str>, Duration);

/// How to start a probe: a program, the arguments that come before nothing else
/// (the request travels on stdin), and any extra environment.
#[derive(Clone)]
pub struct ProbeCommand {
    pub program: PathBuf,
    pub leading_args: Vec<String>,
    pub env: Vec<(OsString, OsString)>,
}

/// What one run of a criterion came to, as seen from outside the probe.
#[derive(Debug)]
pub enum Ended {
    Reported(Outcome),
    /// No outcome before the deadline.
    Hung {
        after: Duration,
    },
    /// The process ended without reporting: an abort, a stack overflow, a signal,
    /// or learner code that called `exit`.
    Crashed {
        status: String,
    },
    /// Something the harness never does: a channel message without this run's
    /// secret, a second outcome, or a process that reported and then would not exit
    /// cleanly. The outcome, if any, is not believed.
    Untrusted {
        why: String,
    },
}

pub struct Run {
    pub ended: Ended,
    /// What the implementation printed itself (stdout, then stderr), bounded.
    pub output: String,
    pub elapsed: Duration,
    /// The probe's last progress line: what was running when it failed, hung or died.
    pub last_progress: Option<String>,
}

impl ProbeCommand {
    /// Runs one criterion and waits for its outcome at most `deadline`.
    pub fn run(&self, criterion: &str, seed: u64, deadline: Duration) -> Result<Run> {
        self.run_watched(criterion, seed, deadline, &mut |_, _| {})
    }

    /// [`ProbeCommand::run`], telling `tick` how it goes.
    pub fn run_watched(
        &self,
        criterion: &str,
        seed: u64,
        deadline: Duration,
        tick: Tick,
    ) -> Result<Run> {
        let started = Instant::now();
        let channel = Channel::open()?;
        let request = Request {
            criterion: criterion.to_owned(),
            seed,
            secret: channel.secret.clone(),
            socket: channel.socket.display().to_string(),
        };
        let mut command = Command::new(&self.program);
        // SAFETY: the closure runs in the child between fork and exec, where only
        // async-signal-safe calls are allowed; it makes one, setrlimit.
        unsafe { command.pre_exec(limit_memory) };
        let mut child = command
            .args(&self.leading_args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Reasons, not backtraces; and never write or accept a snapshot.
            .env("RUST_BACKTRACE", "0")
            .env("INSTA_UPDATE", "no")
            .env_remove("INSTA_FORCE_PASS")
            .spawn()
            .with_context(|| format!("cannot start the probe {}", self.program.display()))?;
        send_request(child.stdin.take(), &request);
        let stdout = Capture::start(child.stdout.take());
        let stderr = Capture::start(child.stderr.take());

        let deadline_at = started + deadline;
        let exited = || matches!(child.try_wait(), Ok(Some(_)) | Err(_));
        let watched = match channel.accept(exited, deadline_at) {
            Accepted::Stream(stream) => watch(stream, &channel.secret, deadline_at, started, tick),
            Accepted::Hung => Watched::hung(),
            Accepted::Exited => Watched::default(),
        };
        let elapsed = started.elapsed();

        // Every way out ends with the process gone: killed if it is still there.
        let status = match watched.end {
            End::Disconnected => wait_until(&mut child, Instant::now() + EXIT_GRACE),
            End::Hung | End::DidNotExit => None,
        }
        .or_else(|| kill(&mut child));
        let clean_exit = status.is_some_and(|s| s.success());

        let (stdout, stderr) = (stdout.finish(), stderr.finish());
        let ended = match (watched.untrusted, watched.outcome, watched.end) {
            (Some(why), _, _) => Ended::Untrusted { why },
            (None, Some(outcome), End::Disconnected) if clean_exit => Ended::Reported(outcome),
            (None, Some(_), End::Disconnected) => Ended::Untrusted {
                why: format!(
                    "the probe reported, then did not exit cleanly (it {})",
                    status.map_or_else(|| "did not exit".to_owned(), describe_status)
                ),
            },
            (None, Some(_), _) => Ended::Untrusted {
                why: format!(
                    "the probe reported, then was still running {}s later, so the checker \
                     stopped it",
                    EXIT_GRACE.as_secs()
                ),
            },
            (None, None, End::Hung) => Ended::Hung { after: elapsed },
            (None, None, _) => Ended::Crashed {
                status: crash_status(status, &stderr),
            },
        };
        let output = [stdout, stderr]
            .into_iter()
            .filter(|text| !text.trim().is_empty())
            .map(|text| text.trim_end().to_owned())
            .collect::<Vec<_>>()
            .join("\n");
        Ok(Run {
            ended,
            output,
            elapsed,
            last_progress: watched.last_progress,
        })
    }
}

/// How much memory a probe may have for its data (heap and thread stacks): far more
/// than any criterion needs (the references stay under a tenth of it), little enough
/// that a runaway probe fails in seconds instead of driving the machine into swap.
pub const PROBE_MEMORY: u64 = 2 << 30;

/// Caps the calling process's data at [`PROBE_MEMORY`], for good: soft and hard limit
/// alike, so the learner's code cannot raise it again. An allocation past it fails,
/// and Rust aborts with "memory allocation of N bytes failed".
fn limit_memory() -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: PROBE_MEMORY,
        rlim_max: PROBE_MEMORY,
    };
    // SAFETY: setrlimit reads the struct it is given and nothing else.
    if unsafe { libc::setrlimit(libc::RLIMIT_DATA, &limit) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What a crash says: how the process ended, and, when an allocation failed, that
/// the probe ran out of the memory it may have.
fn crash_status(status: Option<ExitStatus>, stderr: &str) -> String {
    let ended = status.map_or_else(|| "did not exit".to_owned(), describe_status);
    match stderr.lines().find(|l| l.contains("memory allocation of")) {
        Some(line) => format!(
            "ran out of memory: it asked for more than the {} GiB a probe may have ({}), and {ended}",
            PROBE_MEMORY >> 30,
            line.trim()
        ),
        None => ended,
    }
}

/// The request goes in, and stdin closes, so the harness's read ends. A probe that
/// is already gone makes the write fail; the run then reports how it ended.
fn send_request(stdin: Option<ChildStdin>, request: &Request) {
    if let Some(mut stdin) = stdin {
        let json = serde_json::to_string(request).expect("a request always serializes");
        let _ = stdin.write_all(json.as_bytes());
    }
}

/// A private folder with the socket the harness connects to, and the run's secret.
struct Channel {
    dir: PathBuf,
    socket: PathBuf,
    listener: UnixListener,
    secret: String,
}

enum Accepted {
    Stream(UnixStream),
    Hung,
    Exited,
}

impl Channel {
    fn open() -> Result<Channel> {
        let secret = random_hex(16)?;
        let dir =
            std::env::temp_dir().join(format!("kvlab-{}-{}", std::process::id(), &secret[..12]));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create the private folder {}", dir.display()))?;
        let socket = dir.join("probe.sock");
        let listener = UnixListener::bind(&socket)
            .with_context(|| format!("cannot listen on {}", socket.display()))?;
        listener.set_nonblocking(true)?;
        Ok(Channel {
            dir,
            socket,
            listener,
            secret,
        })
    }

    /// Waits for the harness to connect, then removes the socket so that nobody
    /// else can. The harness connects before it runs any learner code, so the
    /// first connection is the harness's; its hello proves it.
    fn accept(&self, mut probe_exited: impl FnMut() -> bool, deadline: Instant) -> Accepted {
        loop {
            // Whether the probe is gone is asked before the accept, never after: a
            // fast probe connects, reports and exits between the two, and its
            // connection is then waiting in the listener, outcome and all.
            let exited = probe_exited();
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let _ = std::fs::remove_file(&self.socket);
                    return match stream.set_nonblocking(false) {
                        Ok(()) => Accepted::Stream(stream),
                        Err(_) => Accepted::Exited,
                    };
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && exited => {
                    return Accepted::Exited;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return Accepted::Exited,
            }
            if Instant::now() >= deadline {
                return Accepted::Hung;
            }
            thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("cannot read /dev/urandom for the run's secret")?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// How the wait on the channel ended.
#[derive(Debug, Clone, Copy, Default)]
enum End {
    /// The harness closed the channel: the probe is exiting.
    #[default]
    Disconnected,
    /// No outcome by the deadline.
    Hung,
    /// An outcome, and then the channel stayed open past the grace period.
    DidNotExit,
}

#[derive(Default)]
struct Watched {
    outcome: Option<Outcome>,
    last_progress: Option<String>,
    untrusted: Option<String>,
    end: End,
}

impl Watched {
    fn hung() -> Watched {
        Watched {
            end: End::Hung,
            ..Watched::default()
        }
    }
}

/// Reads the channel until the harness closes it, the deadline passes, or the
/// harness overstays its outcome.
fn watch(
    stream: UnixStream,
    secret: &str,
    deadline: Instant,
    started: Instant,
    tick: Tick,
) -> Watched {
    let (lines_tx, lines) = mpsc::channel::<String>();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut watched = Watched::default();
    let mut greeted = false;
    let mut until = deadline;
    watched.end = loop {
        let left = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left.min(TICK)) {
            Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() && left > TICK => {
                tick(watched.last_progress.as_deref(), started.elapsed());
            }
            Ok(line) => {
                let untrusted = match (greeted, protocol::parse(&line)) {
                    (false, Some(Message::Hello { secret: s })) if s == secret => {
                        greeted = true;
                        None
                    }
                    (false, _) => Some(
                        "the first message on the outcome channel did not carry this run's secret",
                    ),
                    (true, Some(Message::Progress { what })) => {
                        tick(Some(&what), started.elapsed());
                        watched.last_progress = Some(what);
                        None
                    }
                    (true, Some(Message::Outcome { outcome })) if watched.outcome.is_none() => {
                        watched.outcome = Some(outcome);
                        until = Instant::now() + EXIT_GRACE;
                        None
                    }
                    (true, Some(Message::Outcome { .. })) => {
                        Some("the probe sent a second outcome")
                    }
                    (true, _) => Some("the outcome channel carried a line the harness never sends"),
                };
                if let Some(why) = untrusted {
                    watched.untrusted = Some(why.to_owned());
                    break End::DidNotExit;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break End::Disconnected,
            Err(mpsc::RecvTimeoutError::Timeout) if watched.outcome.is_some() => {
                break End::DidNotExit;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => break End::Hung,
        }
    };
    watched
}

/// One of the probe's output streams, read on a thread of its own so that a full
/// pipe never blocks the probe, and kept up to [`OUTPUT_KEPT`] bytes.
struct Capture {
    kept: Arc<Mutex<(Vec<u8>, usize)>>,
    done: mpsc::Receiver<()>,
}

impl Capture {
    fn start(stream: Option<impl Read + Send + 'static>) -> Capture {
        let kept = Arc::new(Mutex::new((Vec::new(), 0)));
        let (done_tx, done) = mpsc::channel();
        if let Some(mut stream) = stream {
            let kept = Arc::clone(&kept);
            thread::spawn(move || {
                let mut chunk = [0u8; 8192];
                while let Ok(n @ 1..) = stream.read(&mut chunk) {
                    let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                    let room = OUTPUT_KEPT.saturating_sub(kept.0.len()).min(n);
                    kept.0.extend_from_slice(&chunk[..room]);
                    kept.1 += n - room;
                }
                let _ = done_tx.send(());
            });
        }
        Capture { kept, done }
    }

    /// What was kept. The process is gone by now, so the stream ends at once,
    /// unless a process it started still holds it open: then take what is there.
    fn finish(self) -> String {
        let _ = self.done.recv_timeout(Duration::from_millis(500));
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::from_utf8_lossy(&kept.0).into_owned();
        if kept.1 > 0 {
            text += &format!(
                "\n[... {} more bytes not kept: the checker keeps the first {} KiB]",
                kept.1,
                OUTPUT_KEPT / 1024
            );
        }
        text
    }
}

fn kill(child: &mut Child) -> Option<ExitStatus> {
    let _ = child.kill();
    child.wait().ok()
}

fn wait_until(child: &mut Child, until: Instant) -> Option<ExitStatus> {
    while Instant::now() < until {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => thread::sleep(Duration::from_millis(1)),
            Err(_) => break,
        }
    }
    None
}

pub fn describe_status(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = status.signal() {
        let name = match signal {
            6 => " (SIGABRT: an abort, such as a stack overflow or a panic while panicking)",
            9 => " (SIGKILL)",
            11 => " (SIGSEGV: a bad memory access)",
            _ => "",
        };
        return format!("was killed by signal {signal}{name}");
    }
    match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    //! The probe side is played by this test binary itself: started again with
    //! `KVLAB_FAKE_PROBE=<mode>`, the `fake_probe` test below acts as a harness that
    //! behaves well or badly in one chosen way.

    use super::*;

    const MODE: &str = "KVLAB_FAKE_PROBE";

    /// The probe that connects, reports and exits in the moment between two looks
    /// of the checker's: its outcome waits in the listener and must be read. The
    /// moment is made here, not waited for: the connection is made inside the
    /// question "has the probe exited?", which then says yes.
    #[test]
    fn a_probe_that_reports_and_exits_at_once_is_heard() {
        let channel = Channel::open().unwrap();
        let mut connected = None;
        let exited = || {
            let mut stream = UnixStream::connect(&channel.socket).unwrap();
            writeln!(stream, "hello").unwrap();
            connected = Some(stream);
            true
        };
        let accepted = channel.accept(exited, Instant::now() + Duration::from_secs(5));
        assert!(matches!(accepted, Accepted::Stream(_)));
    }

    fn fake(mode: &str) -> ProbeCommand {
        ProbeCommand {
            program: std::env::current_exe().unwrap(),
            leading_args: vec![
                "--exact".into(),
                "probe::tests::fake_probe".into(),
                "--nocapture".into(),
                "--test-threads=1".into(),
            ],
            env: vec![(MODE.into(), mode.into())],
        }
    }

    /// Not a test of its own: the body of the fake probe.
    #[test]
    fn fake_probe() {
        let Ok(mode) = std::env::var(MODE) else {
            return;
        };
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input).unwrap();
        let request: Request = serde_json::from_str(&input).unwrap();
        let mut stream = UnixStream::connect(&request.socket).unwrap();
        let mut send = |message: Message| {
            writeln!(stream, "{}", serde_json::to_string(&message).unwrap()).unwrap();
        };
        let secret = match mode.as_str() {
            "wrong-secret" => "0".repeat(32),
            _ => request.secret.clone(),
        };
        send(Message::Hello { secret });
        send(Message::Progress {
            what: "taking the write lock".into(),
        });
        match mode.as_str() {
            "hang" => thread::sleep(Duration::from_secs(30)),
            "hog" => {
                // Memory, touched, until an allocation fails.
                let mut kept = Vec::new();
                loop {
                    kept.push(vec![1u8; 64 << 20]);
                }
            }
            "flood" => {
                let line = "x".repeat(1000);
                for _ in 0..1000 {
                    println!("{line}");
                }
            }
            _ => {}
        }
        send(Message::Outcome {
            outcome: Outcome::Pass,
        });
        match mode.as_str() {
            "two-outcomes" => send(Message::Outcome {
                outcome: Outcome::Pass,
            }),
            "linger" => thread::sleep(Duration::from_secs(30)),
            "exit-3" => std::process::exit(3),
            _ => {}
        }
        std::process::exit(0)
    }

    fn run(mode: &str, deadline: Duration) -> Run {
        fake(mode).run("c", 1, deadline).unwrap()
    }

    #[test]
    fn an_honest_probe_is_believed() {
        let run = run("honest", Duration::from_secs(30));
        assert!(
            matches!(run.ended, Ended::Reported(Outcome::Pass)),
            "{:?}",
            run.ended
        );
        assert_eq!(run.last_progress.as_deref(), Some("taking the write lock"));
    }

    #[test]
    fn a_probe_without_the_secret_is_not_believed() {
        let run = run("wrong-secret", Duration::from_secs(30));
        assert!(
            matches!(run.ended, Ended::Untrusted { .. }),
            "{:?}",
            run.ended
        );
    }

    #[test]
    fn a_second_outcome_is_not_believed() {
        let run = run("two-outcomes", Duration::from_secs(30));
        assert!(
            matches!(run.ended, Ended::Untrusted { .. }),
            "{:?}",
            run.ended
        );
    }

    #[test]
    fn a_probe_that_reports_and_then_fails_to_exit_cleanly_is_not_believed() {
        for (mode, says) in [("exit-3", "status 3"), ("linger", "still running")] {
            match run(mode, Duration::from_secs(30)).ended {
                Ended::Untrusted { why } => assert!(why.contains(says), "{mode}: {why}"),
                other => panic!("{mode}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_probe_that_never_reports_is_killed_at_its_deadline_and_named() {
        let started = Instant::now();
        let run = run("hang", Duration::from_millis(500));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(matches!(run.ended, Ended::Hung { .. }), "{:?}", run.ended);
        assert_eq!(run.last_progress.as_deref(), Some("taking the write lock"));
    }

    #[test]
    fn a_flood_of_output_is_kept_bounded() {
        let run = run("flood", Duration::from_secs(30));
        assert!(
            matches!(run.ended, Ended::Reported(Outcome::Pass)),
            "{:?}",
            run.ended
        );
        assert!(
            run.output.len() < OUTPUT_KEPT + 4096,
            "{}",
            run.output.len()
        );
        assert!(
            run.output.contains("more bytes not kept"),
            "{}",
            &run.output[run.output.len() - 200..]
        );
    }

    #[test]
    fn a_probe_that_eats_memory_is_stopped_at_its_cap_and_says_so() {
        let run = run("hog", Duration::from_secs(60));
        match run.ended {
            Ended::Crashed { status } => {
                assert!(status.contains("ran out of memory"), "{status}");
                assert!(status.contains("signal 6"), "{status}");
            }
            other => panic!("a probe past its memory cap was not a crash: {other:?}"),
        }
    }

    #[test]
    fn a_probe_that_dies_before_reporting_is_a_crash_with_its_signal() {
        let probe = ProbeCommand {
            program: "sh".into(),
            leading_args: vec![
                "-c".into(),
                "echo 'fatal runtime error' >&2; kill -ABRT $$".into(),
            ],
            env: vec![],
        };
        let run = probe.run("c", 1, Duration::from_secs(10)).unwrap();
        match run.ended {
            Ended::Crashed { status } => assert!(status.contains("signal 6"), "{status}"),
            other => panic!("an abort was not reported as a crash: {other:?}"),
        }
        assert!(run.output.contains("fatal runtime error"));
    }

    #[test]
    fn lines_on_stdout_are_output_never_outcomes() {
        let line = r#"{"kind":"outcome","outcome":{"status":"pass"}}"#;
        let probe = ProbeCommand {
            program: "sh".into(),
            leading_args: vec!["-c".into(), format!("echo '@@kvlab {line}'; echo '{line}'")],
            env: vec![],
        };
        let run = probe.run("c", 1, Duration::from_secs(10)).unwrap();
        assert!(
            matches!(run.ended, Ended::Crashed { .. }),
            "{:?}",
            run.ended
        );
        assert!(run.output.contains(line));
    }
}
