//! The hints a learner asks for one at a time (`just hint`), per criterion: each
//! closer to the code than the one before, never the answer, then the book section.

use probe_kit::Ladder;

pub const LADDERS: &[Ladder] = &[];
