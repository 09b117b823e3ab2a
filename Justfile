# kvlab: the daily commands. Each is a thin wrapper over a cargo command, printed
# as it runs, so nothing here is needed to use the course. `cargo kvlab` is an alias
# (in .cargo/config.toml) for `cargo run --quiet --package checker --`, with cargo's
# progress bar kept for the first build. A failing check already says why, so the
# recipes that grade do not add just's own error line.

# List the recipes
default:
    @just --list

# Grade a lesson: `just check lesson01`, `just check 4 --solution`, `just check 2 --only readers-parallel --seed 7`
[no-exit-message]
check lesson *args:
    cargo kvlab check {{lesson}} {{args}}

# Every lesson's state at a glance
list:
    cargo kvlab list

# The next hint for the first criterion that does not pass: `just hint lesson02`, then `just hint lesson02 --more` for one closer to the code
[no-exit-message]
hint lesson *args:
    cargo kvlab hint {{lesson}} {{args}}

# Check a lesson again on every save (h: the next hint, q: quit): `just watch lesson01`
[no-exit-message]
watch lesson *args:
    cargo kvlab watch {{lesson}} {{args}}

# Your crate against the reference, step by step: `just diff lesson04 --side-by-side`
diff lesson *args:
    cargo kvlab diff {{lesson}} {{args}}

# Build the book and open it in a browser (needs mdbook: see README.md)
book:
    mdbook serve book --open

# Instructors: grade a class with this course's checker: `just grade learners/* --lesson 4`
[no-exit-message]
grade *args:
    cargo kvlab grade {{args}}

# Maintainers: the test suite, as CI runs it
test:
    cargo test

# Maintainers: prove the crates under lessons/ are still unsolved stubs
[no-exit-message]
verify-stubs:
    cargo kvlab verify-stubs

# Maintainers: everything CI runs (tests, stubs check, book build)
ci:
    bash .ci/run

# Run one of the book's benchmarks in release mode: `just bench lesson03-stress`
bench name:
    cargo run --release -q -p kvlab-bench --bin {{name}}

# Re-measure the lock strategies and redraw the book's chart and table (a few minutes)
bench-locks:
    cargo bench -p kvlab-bench --bench lock_strategies
    cargo run --release -q -p kvlab-bench --bin lock-chart

# Watch lesson 05's metrics move while threads hammer your store (a few seconds)
live seconds="3":
    cargo run -q --manifest-path lessons/lesson05-observability/Cargo.toml --example live {{seconds}}

# Run your lesson 03 stress test on lesson 02's store: `just stress --seed 7`
stress *args:
    cargo run -q --manifest-path lessons/lesson03-stress-test/Cargo.toml -- {{args}}
