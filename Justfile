# kvlab: the daily commands. Each is a thin wrapper over a cargo command, printed
# as it runs, so nothing here is needed to use the course.

# List the recipes
default:
    @just --list

# Grade a lesson: `just check lesson01`, `just check 4 --solution`, `just check 2 --only readers-parallel --seed 7`
check lesson *args:
    cargo run -q -p checker -- check {{lesson}} {{args}}

# Every lesson's state at a glance
list:
    cargo run -q -p checker -- list

# Where to start in a lesson, and a hint per criterion
hint lesson:
    cargo run -q -p checker -- hint {{lesson}}

# Your crate against the reference, file by file
diff lesson:
    cargo run -q -p checker -- diff {{lesson}}

# Build the book and open it in a browser (needs mdbook: see README.md)
book:
    mdbook serve book --open

# Maintainers: the test suite, as CI runs it
test:
    cargo test

# Maintainers: prove the crates under lessons/ are still unsolved stubs
verify-stubs:
    cargo run -q -p checker -- verify-stubs

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
