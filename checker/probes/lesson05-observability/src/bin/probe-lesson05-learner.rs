//! The probe for the learner's crate; built by `checker check lesson05`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    probe_kit::probe_main(&probe_lesson05::Lesson05(probe_lesson05::Learner), &args)
}
