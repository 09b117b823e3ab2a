//! The probe for the learner's crate; built by `checker check lesson04`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    probe_kit::probe_main(&probe_lesson04::Lesson04(probe_lesson04::Learner), &args)
}
