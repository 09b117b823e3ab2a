//! The probe for the learner's crate; built by `checker check lesson02`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    probe_kit::probe_main(&probe_lesson02::Lesson02(probe_lesson02::Learner), &args)
}
