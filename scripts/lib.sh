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

# squid_config DIR PORT: writes DIR/squid.conf for a squid on 127.0.0.1:PORT that tunnels only to loopback
# targets and keeps its state in DIR (owned by the `proxy` user squid drops to), from the tests' fixture.
# Start it with: /usr/sbin/squid -N -n NAME -f DIR/squid.conf
squid_config() {
    mkdir -p "$1"
    sed -e "s|@PORT@|$2|" -e "s|@DIR@|$1|" -e "s|@AUTH@||" -e "s|@CLIENTS@|localhost|" \
        proxy-fixtures/squid/squid.conf.template >"$1/squid.conf"
    chown -R proxy:proxy "$1" 2>/dev/null || true
}
