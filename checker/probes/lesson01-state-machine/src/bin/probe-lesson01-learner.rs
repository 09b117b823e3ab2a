//! The probe for the learner's crate; built by `checker check lesson01`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    probe_kit::probe_main(&probe_lesson01::Lesson01(probe_lesson01::Learner), &args)
}
