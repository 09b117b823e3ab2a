//! Where the course lives on disk.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::lessons::Lesson;

#[derive(Debug, Clone)]
pub struct Workspace {
    /// The course: its checker, probes, references, lock file and target folder.
    pub root: PathBuf,
    /// Where the learner's lesson crates are: `lessons/` of the course, or a
    /// learner's copy that an instructor grades with this course's checker.
    pub lessons: PathBuf,
}

impl Workspace {
    /// The course workspace containing the current directory (so an instructor can
    /// run the checker inside each learner's copy), or the one this checker was
    /// built from.
    pub fn locate() -> Result<Workspace> {
        let start = std::env::current_dir()?;
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf);
        let found = start
            .ancestors()
            .find(|dir| is_course_root(dir))
            .map(Path::to_path_buf);
        match found.or(built_from.filter(|dir| is_course_root(dir))) {
            Some(root) => Ok(Workspace {
                lessons: root.join("lessons"),
                root,
            }),
            None => bail!(
                "cannot find the kvlab workspace from {}: run the checker inside your clone \
                 of the course (the folder with Cargo.toml, lessons/ and solutions/)",
                start.display()
            ),
        }
    }

    /// Grades the lesson crates in `dir` (a folder like `lessons/`) instead.
    pub fn with_lessons(mut self, dir: &Path) -> Result<Workspace> {
        if !dir.is_dir() {
            bail!(
                "{} is not a folder of lesson crates (like lessons/)",
                dir.display()
            );
        }
        self.lessons = std::path::absolute(dir)?;
        Ok(self)
    }

    /// [`Workspace::locate`], with its lessons taken from `lessons` where one is given
    /// (the `--lessons DIR` of `check`, `hint` and `watch`).
    pub fn locate_with_lessons(lessons: Option<&Path>) -> Result<Workspace> {
        let workspace = Workspace::locate()?;
        match lessons {
            Some(dir) => workspace.with_lessons(dir),
            None => Ok(workspace),
        }
    }

    pub fn lesson_dir(&self, lesson: &Lesson) -> PathBuf {
        self.lessons.join(lesson.dir_name())
    }

    pub fn solution_dir(&self, lesson: &Lesson) -> PathBuf {
        self.root.join("solutions").join(lesson.dir_name())
    }

    /// Cargo's target folder for the course, shared by the learner's probes so that
    /// compiled dependencies are built once.
    pub fn target_dir(&self) -> PathBuf {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|dir| self.root.join(dir))
            .unwrap_or_else(|| self.root.join("target"))
    }

    /// Where the checker keeps what it remembers between runs (the last results, the
    /// hints shown) for these lesson crates: the course's own, or, for a copy graded
    /// with `--lessons`, a folder of that copy's, so that grading one never changes
    /// what another's `list` and `hint` say.
    pub fn state_dir(&self) -> PathBuf {
        let state = self.root.join("target").join("kvlab");
        if self.lessons == self.root.join("lessons") {
            return state;
        }
        state.join("elsewhere").join(folder_key(&self.lessons))
    }

    /// A path for messages: relative to the workspace when it is inside it.
    pub fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }
}

/// A short name for a folder, the same on every run: its canonical path, hashed.
pub fn folder_key(dir: &Path) -> String {
    let path = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    format!("{:08x}", fnv1a(path.to_string_lossy().as_bytes()) as u32)
}

/// A small, stable hash (std's hashers may change between releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn is_course_root(dir: &Path) -> bool {
    dir.join("Cargo.toml").is_file() && dir.join("lessons").is_dir() && dir.join("checker").is_dir()
}
