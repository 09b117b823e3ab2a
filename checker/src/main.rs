//! `checker`: grades a kvlab learner's lessons. See ARCHITECTURE.md for the map.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Parser;

use checker::check::{self, Target};
use checker::cli::{CheckArgs, Cli, Command};
use checker::report::Status;
use checker::terminal::Terminal;
use checker::workspace::Workspace;
use checker::{diff, grade, hints, lessons, progress, stubs, watch};

/// Every criterion passed.
const PASS: u8 = 0;
/// A criterion failed, or the crate does not build.
const FAIL: u8 = 1;
/// The command line or the set-up is wrong; nothing was graded.
const USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(USAGE)
        }
    }
}

fn run(command: Command) -> Result<u8> {
    match command {
        Command::Probe {
            lesson,
            implementation,
        } => {
            let lesson = lessons::find(&lesson)?;
            let Some(probe) = lesson.builtins.probe(&implementation) else {
                bail!(
                    "{} has no built-in implementation `{implementation}`",
                    lesson.id()
                );
            };
            probe_kit::probe_main(probe.as_ref())
        }
        Command::Check(args) => {
            let workspace = Workspace::locate_with_lessons(args.lessons.as_deref())?;
            check(&workspace, args)
        }
        Command::List => {
            print!("{}", progress::render(&Workspace::locate()?));
            Ok(PASS)
        }
        Command::Hint {
            lesson,
            more,
            lessons: dir,
        } => {
            let workspace = Workspace::locate_with_lessons(dir.as_deref())?;
            print!(
                "{}",
                hints::for_lesson(&workspace, lessons::find(&lesson)?, more)?
            );
            Ok(PASS)
        }
        Command::Watch {
            lesson,
            lessons: dir,
        } => {
            let workspace = Workspace::locate_with_lessons(dir.as_deref())?;
            watch::run(&workspace, lessons::find(&lesson)?)?;
            Ok(PASS)
        }
        Command::Diff {
            lesson,
            lessons: dir,
            side_by_side,
            unified,
        } => {
            let workspace = Workspace::locate_with_lessons(dir.as_deref())?;
            let lesson = lessons::find(&lesson)?;
            let report = progress::last_report_if_fresh(&workspace, lesson);
            let comparison = diff::compare(&workspace, lesson, report.as_ref())?;
            let layout = diff::Layout::choose(side_by_side, unified);
            print!("{}", diff::render_text(&comparison, layout));
            Ok(PASS)
        }
        Command::Grade {
            submissions,
            lessons,
            out,
            seed,
        } => {
            let options = grade::Options {
                submissions,
                lessons,
                out,
                seed,
            };
            grade::run(&Workspace::locate()?, &options)?;
            Ok(PASS)
        }
        Command::VerifyStubs => verify_stubs(Workspace::locate()?),
    }
}

fn check(workspace: &Workspace, args: CheckArgs) -> Result<u8> {
    let lesson = lessons::find(&args.lesson)?;
    let target = match (args.solution, args.fixture) {
        (true, _) => Target::Reference,
        (false, Some(name)) => Target::Fixture(name),
        (false, None) => Target::Learner,
    };
    let seed = args.seed.unwrap_or_else(check::fresh_seed);
    let mut terminal = Terminal::new();
    let watcher: &mut dyn check::Watcher = if args.json {
        &mut check::Unwatched
    } else {
        &mut terminal
    };
    let report = check::check(
        workspace,
        lesson,
        &target,
        seed,
        args.only.as_deref(),
        watcher,
    )?;
    // Only a full check of the learner's crate says how far the lesson is (a folder
    // given with --lessons keeps its own record: see Workspace::state_dir).
    if matches!(target, Target::Learner) && args.only.is_none() {
        progress::save(workspace, &report)?;
    }
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let graded = match &target {
            Target::Learner => String::new(),
            Target::Reference => " --solution".to_owned(),
            Target::Fixture(name) => format!(" --fixture {name}"),
        };
        let only = args
            .only
            .map(|id| format!(" --only {id}"))
            .unwrap_or_default();
        let command = format!("just check {}{graded}{only} --seed {seed}", lesson.id());
        let replay = if lesson.threads {
            format!(
                "The same random inputs again: {command} (the seed fixes the inputs; how the \
                 threads interleave is up to the machine, so a race may show differently)."
            )
        } else {
            format!("To replay exactly this run: {command}")
        };
        terminal.finish(&report, &replay);
    }
    Ok(if report.all_pass() { PASS } else { FAIL })
}

/// Proves the crates under lessons/ are the unsolved stubs the course ships: each
/// builds, and no criterion passes on it.
fn verify_stubs(workspace: Workspace) -> Result<u8> {
    let workspace = stubs::committed(workspace)?;
    let mut ok = true;
    for lesson in lessons::LESSONS {
        let report = check::check(
            &workspace,
            lesson,
            &Target::Learner,
            1,
            None,
            &mut check::Unwatched,
        )?;
        let passing: Vec<&str> = report
            .criteria
            .iter()
            .filter(|c| c.status == Status::Pass)
            .map(|c| c.id.as_str())
            .collect();
        let todo = report
            .criteria
            .iter()
            .filter(|c| c.status == Status::NotImplemented)
            .count();
        let verdict = if let Some(refusal) = &report.refused {
            format!("refused: {refusal}")
        } else if let Some(error) = &report.build_error {
            format!("does not build:\n{error}")
        } else if !passing.is_empty() {
            format!("passes {} although it is a stub", passing.join(", "))
        } else {
            format!(
                "unsolved ({todo} of {} criteria not implemented yet, none passing)",
                report.total
            )
        };
        let fine = report.build_error.is_none() && report.refused.is_none() && passing.is_empty();
        ok &= fine;
        println!(
            "{} {}: {verdict}",
            if fine { "ok  " } else { "FAIL" },
            lesson.id()
        );
    }
    Ok(if ok { PASS } else { FAIL })
}
