//! `checker watch`: check a lesson again on every save, redraw the report, show the
//! next hint on a key, and leave the terminal as it was found.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result};
use crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, terminal};
use notify::{RecursiveMode, Watcher as _};

use crate::check::{self, Target, Unwatched};
use crate::hints;
use crate::lessons::Lesson;
use crate::progress;
use crate::workspace::Workspace;

/// Saves come in bursts (an editor writes a file, renames, touches its folder); one
/// check follows once the folder has been quiet this long.
const QUIET: Duration = Duration::from_millis(300);

enum Input {
    Saved,
    Hint,
    Quit,
}

pub fn run(workspace: &Workspace, lesson: &'static Lesson) -> Result<()> {
    let dir = workspace.lesson_dir(lesson);
    let (tx, inputs) = mpsc::channel();
    let _watcher = watch_folder(&dir, tx.clone()).with_context(|| {
        format!(
            "cannot watch {} for changes (on a network file system, watching does not \
             work): check by hand after each save with `just check {}`",
            workspace.show(&dir),
            lesson.id()
        )
    })?;
    let keys = std::io::stdin().is_terminal() && terminal::enable_raw_mode().is_ok();
    let _restore = Restore(keys);
    if keys {
        std::thread::spawn(move || read_keys(tx));
    }
    let mut screen = Screen { raw: keys };
    loop {
        screen.draw(&format!("checking {} ...\n", lesson.id()));
        let seed = check::fresh_seed();
        let report = check::check(
            workspace,
            lesson,
            &Target::Learner,
            seed,
            None,
            &mut Unwatched,
        )?;
        progress::save(workspace, &report)?;
        let replay = format!(
            "The same inputs again: just check {} --seed {seed}",
            lesson.id()
        );
        let mut text = crate::report::render_text(&report, &replay);
        let keys_help = if keys {
            "h: next hint   q: quit"
        } else {
            "Ctrl-C: quit (keys need a terminal)"
        };
        text += &format!(
            "\nwatching {}: save a file to check again   {keys_help}\n",
            workspace.show(&dir)
        );
        screen.draw(&text);
        // Wait for a save (then let the burst settle) or a key.
        loop {
            match inputs.recv() {
                Ok(Input::Saved) => {
                    while let Ok(Input::Saved) = inputs.recv_timeout(QUIET) {}
                    break;
                }
                Ok(Input::Hint) => {
                    let hint = hints::next(workspace, lesson, &report, true)?;
                    screen.draw(&format!("{text}\n{hint}\n"));
                }
                Ok(Input::Quit) | Err(_) => return Ok(()),
            }
        }
    }
}

/// Sends [`Input::Saved`] on every change under `dir`, except in `target/`.
fn watch_folder(dir: &Path, tx: mpsc::Sender<Input>) -> notify::Result<impl notify::Watcher> {
    let target = dir.join("target");
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event
            && !event.kind.is_access()
            && !event.paths.iter().all(|p| p.starts_with(&target))
        {
            let _ = tx.send(Input::Saved);
        }
    })?;
    watcher.watch(dir, RecursiveMode::Recursive)?;
    Ok(watcher)
}

fn read_keys(tx: mpsc::Sender<Input>) {
    while let Ok(event) = event::read() {
        let Event::Key(KeyEvent {
            code,
            modifiers,
            kind: KeyEventKind::Press,
            ..
        }) = event
        else {
            continue;
        };
        let input = match code {
            KeyCode::Char('q') | KeyCode::Esc => Input::Quit,
            KeyCode::Char('c') if modifiers.contains(KeyModifiers::CONTROL) => Input::Quit,
            KeyCode::Char('h') => Input::Hint,
            _ => continue,
        };
        let quit = matches!(input, Input::Quit);
        if tx.send(input).is_err() || quit {
            return;
        }
    }
}

struct Screen {
    /// In raw mode a newline does not return the cursor to the first column.
    raw: bool,
}

impl Screen {
    fn draw(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = execute!(
            out,
            terminal::Clear(terminal::ClearType::All),
            cursor::MoveTo(0, 0)
        );
        let text = if self.raw {
            text.replace('\n', "\r\n")
        } else {
            text.to_owned()
        };
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// Leaves raw mode however `run` ends, a panic included.
struct Restore(bool);

impl Drop for Restore {
    fn drop(&mut self) {
        if self.0 {
            let _ = terminal::disable_raw_mode();
        }
    }
}
