# shellcheck shell=bash
# What the scripts share. Source it from the repository root after `set -euo pipefail`:
#   . scripts/lib.sh
# Messages name the script that sourced it ($0).

lib_started=$(date +%s)

# say TEXT...: one progress line on standard error, with the seconds since the script started.
say() { echo "==> [$(($(date +%s) - lib_started)) s] $*" >&2; }

# value NAME FILE: the value of the last line `NAME VALUE` in FILE (a tool's key/value output).
value() { awk -v name="$1" '$1 == name { print $2 }' "$2" | tail -1; }

# rss_kib PID: its resident memory in KiB; empty once the process is gone.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || true; }

# wait_for_port PORT SECONDS: returns once 127.0.0.1:PORT accepts a connection; fails after SECONDS.
wait_for_port() {
    local deadline=$(($(date +%s) + $2))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "${0##*/}: nothing listens on 127.0.0.1:$1 after $2 s" >&2
    return 1
}

# replan PACKAGE_DIR: makes SwiftPM read a package that depends on this one by path (Examples/, Soak/, Fuzz/,
# Benchmarks/) again before its next build. It keeps the main package's file lists in that package's .build until
# a manifest changes, so a source file added here since the last build is missing there and the build fails
# ("cannot find … in scope", "no member …"). A newer manifest date makes it plan again; compiled objects stay.
replan() {
    touch "$1/Package.swift"
}

# squid_config DIR PORT: writes DIR/squid.conf for a squid on 127.0.0.1:PORT that tunnels only to loopback
# targets and keeps its state in DIR (owned by the `proxy` user squid drops to), from the tests' fixture.
# Start it with: /usr/sbin/squid -N -n NAME -f DIR/squid.conf
squid_config() {
    mkdir -p "$1"
    sed -e "s|@PORT@|$2|" -e "s|@DIR@|$1|" -e "s|@AUTH@||" -e "s|@CLIENTS@|localhost|" \
        proxy-fixtures/squid/squid.conf.template >"$1/squid.conf"
    chown -R proxy:proxy "$1" 2>/dev/null || true
}

# Background servers a script starts with start_listening; stop_started stops them (by PID, never by name) and
# belongs in the script's EXIT trap.
started_pids=()

# start_listening LOG COMMAND...: starts COMMAND in the background with its output in LOG and waits, at most 20 s,
# for its "listening on HOST:PORT" line; sets $port to that PORT. Call it directly, never inside $(…): a subshell
# would record the PID in its own copy of started_pids, and stop_started would stop nothing.
start_listening() {
    local out=$1
    shift
    "$@" >"$out" 2>&1 &
    started_pids+=($!)
    for _ in $(seq 1 400); do
        if grep -q "listening on" "$out"; then
            # shellcheck disable=SC2034 # the result, read by the script that sourced this file
            port=$(grep -m1 "listening on" "$out" | sed -E 's/.*:([0-9]+)$/\1/')
            return 0
        fi
        sleep 0.05
    done
    echo "${0##*/}: $* did not start:" >&2
    cat "$out" >&2
    exit 1
}

# stop_started: stops every process start_listening started and waits for each.
stop_started() {
    local pid
    for pid in "${started_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${started_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

# The test targets, in the order scripts/test and scripts/sanitize run them, each in a process of its own:
# CPU-heavy codec tests and deadline-sensitive server tests must not starve each other's cooperative threads,
# and a crash names its target.
# shellcheck disable=SC2034 # read by the scripts that source this file
test_targets=(TTBasicsTests TTProtocolTests TTTransportTests TTClientTests TTCommandLineTests TTServerTests TTProxyTests
    EndToEndTests)

# raise_fd_limit: the tests hold hundreds of idle tunnels at once.
raise_fd_limit() { ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; }

# build_or_fail WHAT COMMAND...: runs a build quietly; on failure shows its errors (or the end of its output)
# and fails with "WHAT failed". On success shows its last line.
build_or_fail() {
    local what=$1 log
    shift
    log=$(mktemp)
    if ! "$@" >"$log" 2>&1; then
        grep -E "error:" "$log" | sort -u >&2 || tail -50 "$log" >&2
        rm -f "$log"
        echo "$what failed" >&2
        return 1
    fi
    tail -1 "$log" >&2
    rm -f "$log"
}

# Totals of run_test_target, for the closing line of print_test_totals.
tests_total=0
tests_failed=0
failed_targets=()

# run_test_target TARGET SHOW CHECK [ARGUMENT...]: runs TARGET's tests (`swift test --skip-build --filter
# '^TARGET\.' ARGUMENT...`), showing failures, skips and the summary, plus the lines matching the extended regex
# SHOW when it is not empty. CHECK is a command given the file holding the whole output: when it fails, the
# target fails too (a sanitizer report among passing tests). Adds to the totals; a target that fails or runs no
# test is named in failed_targets.
run_test_target() {
    local target=$1 show=$2 check=$3 out status summary count bad
    shift 3
    out=$(mktemp)
    set +e
    swift test --skip-build --filter "^$target\\." "$@" 2>&1 | tee "$out" |
        grep -E "^✘|Test run with|skipped${show:+|$show}"
    status=${PIPESTATUS[0]}
    set -e
    summary=$(grep -E "Test run with [0-9]+ tests?" "$out" | tail -1 || true)
    count=$(sed -E 's/.*Test run with ([0-9]+) tests?.*/\1/' <<<"$summary")
    [ -n "$count" ] || count=0
    bad=$(grep -cE '^✘ Test .* failed after' "$out" || true)
    "$check" "$out" || status=1
    rm -f "$out"
    if [ "$count" -eq 0 ]; then
        echo "$target ran no test" >&2
        status=1
    fi
    tests_total=$((tests_total + count))
    tests_failed=$((tests_failed + bad))
    if [ "$status" -ne 0 ]; then
        failed_targets+=("$target")
        [ "$bad" -gt 0 ] || tests_failed=$((tests_failed + 1))
    fi
}

# print_test_totals [WHAT]: names the failing targets and prints `Tests: N passed, N failed`, the line CI reads;
# fails when any target failed.
print_test_totals() {
    echo
    [ ${#failed_targets[@]} -eq 0 ] || echo "failing targets${1:+ $1}: ${failed_targets[*]}" >&2
    echo "Tests: $((tests_total - tests_failed)) passed, $tests_failed failed"
    [ ${#failed_targets[@]} -eq 0 ]
}
