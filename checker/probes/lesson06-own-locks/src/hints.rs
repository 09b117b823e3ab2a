//! The hints a learner asks for one at a time, per criterion.

use probe_kit::Ladder;

pub const LADDERS: &[Ladder] = &[];
