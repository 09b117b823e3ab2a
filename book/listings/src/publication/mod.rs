//! The publication chapter.
