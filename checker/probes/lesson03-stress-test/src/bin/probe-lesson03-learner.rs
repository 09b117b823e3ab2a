//! The probe for the learner's crate; built by `checker check lesson03`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    probe_kit::probe_main(&probe_lesson03::Lesson03(probe_lesson03::Learner), &args)
}
