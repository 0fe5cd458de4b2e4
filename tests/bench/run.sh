#!/bin/bash
# Benchmark: hello-async against nginx and lighttpd on this machine, side by side.
#
# Each server is pinned to CPU 0 and serves the same pages on its own loopback port; the load
# (wrk, or sleep_clients for /sleep) runs on CPU 1. First pass: request logging on everywhere
# (hello-async into a running journald, nginx and lighttpd into their access log files); second
# pass: logging off. Server CPU per request is utime + stime of the server's processes divided
# by the responses wrk counted: the figure to compare, since on two cores the client often
# saturates first. Every figure is the median of RUNS runs. With logging off, the keep-alive and
# pipelined rows also show syscall_floor: a server doing only the read and the write each
# request needs, the least CPU per request this kernel allows.
#
# The TLS part (PARTS=tls) compares hello-async with nginx over HTTPS, same certificate (ECDSA
# P-256, made here), TLS 1.3, logging off: keep-alive requests, full handshakes, resumed
# handshakes (openssl s_time -reuse), a 1 MiB file, and the memory of 10,000 idle connections.
#
# The memory part (PARTS=lean) compares what 15,000 idle keep-alive connections cost hello-async,
# nginx and lighttpd; takes the peak RSS of 10,000 concurrent /sleep with the project's client
# and with a plain asyncio one, logging on and off; and reads an idle daemon's Pss beside the
# floor of its libraries.
#
# The HTTP/2 part (PARTS=h2) compares hello-async with nginx (http2 on the same certificate)
# under h2load: h2 over TLS and h2c with prior knowledge on a small file (-c 50 -m 10), a 1 MiB
# file (-c 8 -m 1), and 10,000 concurrent /sleep streams over 100 connections.
#
# usage: tests/bench/run.sh
# env: DURATION=10 (seconds per wrk or h2load run), RUNS=3, JOURNALD_CPU (unset: journald is
#      not pinned), PARTS="plain lean journal tls h2" (which parts to run; journal: the
#      request log's access_log_overflow "drop" against "wait")
# Needs root (private mount and network namespaces for journald); traffic stays on loopback.
set -euo pipefail

if [ -z "${BENCH_IN_NAMESPACE:-}" ]; then
    [ "$(id -u)" = 0 ] || { echo "run.sh: needs root" >&2; exit 1; }
    # Before the private network namespace, which has only loopback: apt needs the mirror.
    "$(dirname "$0")/../../packaging/install-deps.sh" build test bench
    exec env BENCH_IN_NAMESPACE=1 unshare --mount --net --propagation private -- "$0" "$@"
fi
ip link set lo up
# A host booted with systemd lets 512 datagrams wait on journald's socket (its sysctl.d sets
# this); the kernel default of 10 would make the benchmark's journald unlike a real one. The
# setting belongs to this private network namespace only.
sysctl -q net.unix.max_dgram_qlen=512

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
duration=${DURATION:-10}
runs=${RUNS:-3}

cmake --preset release -DBUILD_TESTING=ON >/dev/null
cmake --build --preset release --target hello-async sleep_clients idle_clients library_floor \
    syscall_floor >/dev/null
daemon=$top/build/release/daemon/hello-async
sleep_clients=$top/build/release/tests/bench/sleep_clients
idle_clients=$top/build/release/tests/bench/idle_clients
library_floor=$top/build/release/tests/bench/library_floor
syscall_floor=$top/build/release/tests/bench/syscall_floor
parts=" ${PARTS:-plain lean journal tls h2} "

work=$(mktemp -d /tmp/hello-async-bench.XXXXXX)
# nginx's workers run as www-data: they must be able to read the pages.
chmod 755 "$work"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Private journald: nothing reaches the host's journal.
for d in /run/systemd /run/log /var/log/journal; do mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; done
mkdir -p /run/systemd/journal /run/systemd/journald.conf.d
# As the package's journal namespace: no rate limit in journald, so that what is measured is
# journald storing every request entry.
printf '[Journal]\nRateLimitIntervalSec=0\n' >/run/systemd/journald.conf.d/bench.conf
# journald runs wherever the scheduler puts it, as on a real host. Left to itself it mostly shares
# CPU 1 with wrk, so hello-async gets a lighter load than the others; JOURNALD_CPU=0 keeps all
# the server side's work on CPU 0 instead, as nginx's and lighttpd's own log writing is.
journald_pinning=()
[ -n "${JOURNALD_CPU:-}" ] && journald_pinning=(taskset -c "$JOURNALD_CPU")
"${journald_pinning[@]}" /lib/systemd/systemd-journald &
journald=$!
pids+=("$journald")
for _ in $(seq 1 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done
# A booted Debian 12 keeps its journal in /var/log/journal, moved there at boot by
# systemd-journal-flush.service; until then journald checks for that flush on every entry.
journalctl --flush

www=$work/www
mkdir -p "$www" "$work/logs"
cp www/hello.html www/404.html "$www/"
head -c 1048576 /dev/urandom >"$www/big.bin"
# 10,000 connections need as many descriptors, in the servers and the client alike.
ulimit -n "$(ulimit -Hn)"
max_fds=$(ulimit -Hn)

port_hello=18080
port_nginx=18081
port_lighttpd=18082
port_activate=18083
port_floor=18084

write_configs() { # logging: on|off
    local log=$1
    cat >"$work/hello.toml" <<TOML
[server]
listen = ["127.0.0.1:$port_hello"]
root = "$www"
threads = 1
access_log = $([ "$log" = on ] && echo true || echo false)
log_target = "journal"
[limits]
max_connections = 20000
max_requests_per_connection = 1000000
[[route]]
path = "/"
file = "hello.html"
[[route]]
path = "/sleep"
file = "hello.html"
delay = "5s"
[[static]]
prefix = "/files/"
dir = "$www"
[errors]
404 = "404.html"
TOML
    cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/nginx-error.log;
events { worker_connections 16384; }
http {
    access_log $([ "$log" = on ] && echo "$work/logs/nginx-access.log" || echo off);
    keepalive_requests 1000000;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port_nginx;
        root $www;
        location = / { try_files /hello.html =404; }
        location /files/ { alias $www/; }
    }
}
NGINX
    cat >"$work/lighttpd.conf" <<LIGHTTPD
server.document-root = "$www"
server.port = $port_lighttpd
server.bind = "127.0.0.1"
server.errorlog = "$work/logs/lighttpd-error.log"
server.max-keep-alive-requests = 1000000
server.max-fds = $max_fds
server.max-connections = $((max_fds / 2 - 100))
index-file.names = ( "hello.html" )
alias.url = ( "/files/" => "$www/" )
server.modules = ( "mod_alias"$([ "$log" = on ] && echo ', "mod_accesslog"') )
$([ "$log" = on ] && echo "accesslog.filename = \"$work/logs/lighttpd-access.log\"")
mimetype.assign = ( ".html" => "text/html; charset=utf-8", "" => "application/octet-stream" )
LIGHTTPD
}

wait_port() {
    for _ in $(seq 1 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.05
    done
    echo "nothing answers on port $1" >&2
    return 1
}

declare -A server_pid
start_servers() {
    taskset -c 0 "$daemon" --config "$work/hello.toml" 2>>"$work/logs/hello.err" &
    server_pid[hello-async]=$!
    taskset -c 0 nginx -c "$work/nginx.conf" -g 'daemon off;' &
    server_pid[nginx]=$!
    taskset -c 0 lighttpd -D -f "$work/lighttpd.conf" &
    server_pid[lighttpd]=$!
    taskset -c 0 "$syscall_floor" $port_floor "$www/hello.html" &
    server_pid[syscall-floor]=$!
    pids+=("${server_pid[@]}")
    wait_port $port_hello
    wait_port $port_nginx
    wait_port $port_lighttpd
    wait_port $port_floor
    # Every server must really serve the pages: a fast 403 is no benchmark.
    local port expected
    for port in $port_hello $port_nginx $port_lighttpd; do
        for expected in "/ 200 $(stat -c %s "$www/hello.html")" "/files/big.bin 200 1048576"; do
            # shellcheck disable=SC2086 # path, status and size, split into $1 $2 $3
            set -- $expected
            local got
            got=$(curl -s -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$port$1")
            if [ "$got" != "$2 $3" ]; then
                echo "port $port: GET $1 answered '$got', expected '$2 $3'" >&2
                exit 1
            fi
        done
    done
}

stop_servers() {
    for s in hello-async nginx lighttpd syscall-floor; do kill "${server_pid[$s]}" 2>/dev/null || true; done
    for s in hello-async nginx lighttpd syscall-floor; do wait "${server_pid[$s]}" 2>/dev/null || true; done
}

# hello-async's last message counts the request log entries it could not deliver.
log_losses() { # pid
    local found _
    for _ in $(seq 1 100); do # journald may not have written the message yet
        found=$(journalctl -q --directory=/var/log/journal -o cat _PID="$1" 2>/dev/null |
            sed -n 's/^stopped after \([0-9]*\) requests; \([0-9]*\) log entries dropped$/\2 of \1/p')
        [ -n "$found" ] && break
        sleep 0.05
    done
    echo "$found"
}

# CPU ticks (utime + stime) of a process and its children's live threads.
cpu_ticks() {
    local total=0 p
    for p in $1 $(pgrep -P "$1" || true); do
        [ -r "/proc/$p/stat" ] || continue
        total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
    done
    echo $total
}
hz=$(getconf CLK_TCK)

# One wrk run: prints "rps p50_ms p99_ms server_us_per_req journald_us_per_req".
wrk_run() { # server url connections [script]
    local server=$1 url=$2 conns=$3 script=${4:-}
    local pid=${server_pid[$server]}
    local before journal_before out
    before=$(cpu_ticks "$pid")
    journal_before=$(cpu_ticks "$journald")
    out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${duration}s" --latency ${script:+-s "$script"} "$url")
    local after journal_after
    after=$(cpu_ticks "$pid")
    journal_after=$(cpu_ticks "$journald")
    echo "$out" | awk -v b="$before" -v a="$after" -v jb="$journal_before" -v ja="$journal_after" \
        -v hz="$hz" -v server="$server" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        / requests in / { requests = $1 }
        /Requests\/sec/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        END {
            cpu = (a - b) / hz * 1e6 / (requests > 0 ? requests : 1)
            jcpu = server == "hello-async" ? (ja - jb) / hz * 1e6 / (requests > 0 ? requests : 1) : -1
            printf "%s %.3f %.3f %.2f %.2f\n", rps, p50, p99, cpu, jcpu
        }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The server's processes together: resident KiB.
rss_kib() {
    local total=0 p
    for p in $1 $(pgrep -P "$1" || true); do
        total=$((total + $(awk '/^VmRSS/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
    done
    echo $total
}
# Memory of N idle keep-alive connections, each after one exchange with its response read:
# (RSS with them - RSS before) / N in bytes, the server's processes together.
idle_bytes_per_connection() { # server port count [--tls]
    local pid=${server_pid[$1]} count=$3 before after client
    before=$(rss_kib "$pid")
    taskset -c 1 "$idle_clients" "$2" "$count" / ${4:+"$4"} >"$work/idle.out" 2>&1 &
    client=$!
    for _ in $(seq 1 1200); do grep -q '^ready' "$work/idle.out" && break; sleep 0.1; done
    grep -q "^ready $count\$" "$work/idle.out" || { cat "$work/idle.out" >&2; exit 1; }
    after=$(rss_kib "$pid")
    kill "$client"; wait "$client" 2>/dev/null || true
    echo $(((after - before) * 1024 / count))
}

# 10,000 concurrent /sleep on a fresh daemon (a heap keeps what an earlier run freed): the
# client's figures, and the daemon's peak RSS.
sleep_run() { # client command...
    taskset -c 0 "$daemon" --config "$work/hello.toml" 2>>"$work/logs/hello.err" &
    local hello=$!
    pids+=("$hello")
    for _ in $(seq 1 100); do ss -Hltn "sport = :$port_hello" | grep -q LISTEN && break; sleep 0.05; done
    local out
    out=$(taskset -c 1 "$@" $port_hello 10000 /sleep 30 || true)
    local peak_rss
    peak_rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$hello/status")
    kill "$hello"; wait "$hello" 2>/dev/null || true
    # The slowest request as the daemon timed it in its log entry, from its first byte read to
    # its answer sent: what the client saw above that is the client's own lag (and the wait
    # before the daemon read the request). Entries the daemon dropped are not there: the count
    # says how many were logged.
    journalctl --sync
    local server_side
    server_side=$(journalctl -q --no-pager -o cat --output-fields=DURATION_USEC \
        _PID="$hello" HTTP_TARGET=/sleep | sort -n |
        awk 'NF { n++; last = $1 } END { if (n) printf " server_slowest_ms=%.1f server_logged=%d", last / 1000, n }')
    printf '%s peak_rss_kib=%s%s\n' "$out" "$peak_rss" "$server_side"
}

declare -A result
# The servers a scenario compares, and where each listens.
servers=(hello-async nginx lighttpd)
declare -A url_base=([hello-async]=http://127.0.0.1:$port_hello [nginx]=http://127.0.0.1:$port_nginx
    [lighttpd]=http://127.0.0.1:$port_lighttpd [syscall-floor]=http://127.0.0.1:$port_floor)
scenario() { # logging name url_path connections [script]
    local log=$1 name=$2 path=$3 conns=$4 script=${5:-}
    local s
    for s in "${servers[@]}"; do : >"$work/runs.$s"; done
    # Rounds rather than one server's runs back to back: this machine's speed drifts over
    # minutes, and each round puts the servers' runs as close together as they can be.
    for _ in $(seq 1 "$runs"); do
        for s in "${servers[@]}"; do
            BENCH_PATH=$path wrk_run "$s" "${url_base[$s]}$path" "$conns" "$script" >>"$work/runs.$s"
        done
    done
    local col
    for s in "${servers[@]}"; do
        for col in 1 2 3 4 5; do
            result[$log,$name,$s,$col]=$(awk -v c=$col '{ print $c }' "$work/runs.$s" | median)
        done
    done
}

print_table() { # logging
    local log=$1 name s
    printf '\nlogging %s (median of %s runs of %ss; servers on CPU 0, wrk on CPU 1)\n' "$log" "$runs" "$duration"
    printf '%-28s %-12s %10s %9s %9s %9s %9s %9s\n' scenario server req/s p50_ms p99_ms us/req vs_nginx vs_lighttpd
    for name in keepalive close pipelined 1MiB; do
        local nginx_cpu=${result[$log,$name,nginx,4]} lighttpd_cpu=${result[$log,$name,lighttpd,4]}
        for s in hello-async nginx lighttpd; do
            local cpu=${result[$log,$name,$s,4]} p50=${result[$log,$name,$s,2]} p99=${result[$log,$name,$s,3]}
            # wrk's latency percentiles are meaningless with pipelining (it times one response
            # per write and prints 0 for the upper percentiles): show none rather than those.
            if [ "$name" = pipelined ]; then p50=-; p99=-; fi
            printf '%-28s %-12s %10.0f %9s %9s %9.2f %9.2f %9.2f\n' "$name" "$s" \
                "${result[$log,$name,$s,1]}" "$p50" "$p99" \
                "$cpu" "$(awk -v a="$cpu" -v b="$nginx_cpu" 'BEGIN { print a / b }')" \
                "$(awk -v a="$cpu" -v b="$lighttpd_cpu" 'BEGIN { print a / b }')"
        done
        if [ -n "${result[$log,$name,syscall-floor,4]:-}" ]; then
            local cpu=${result[$log,$name,syscall-floor,4]}
            printf '%-28s %-12s %10.0f %9s %9s %9.2f %9.2f %9.2f\n' "$name" "syscall-floor" \
                "${result[$log,$name,syscall-floor,1]}" - - "$cpu" \
                "$(awk -v a="$cpu" -v b="$nginx_cpu" 'BEGIN { print a / b }')" \
                "$(awk -v a="$cpu" -v b="$lighttpd_cpu" 'BEGIN { print a / b }')"
        fi
        if [ "$log" = on ]; then
            printf '%-28s %-12s %46s %9.2f\n' "$name" "(journald)" "" "${result[$log,$name,hello-async,5]}"
        fi
    done
    if [ "$log" = on ]; then
        printf 'hello-async request log entries dropped: %s\n' "${losses[$log]:-unknown}"
    fi
}

declare -A losses
if [[ $parts == *" plain "* ]]; then
for log in on off; do
    write_configs $log
    start_servers
    # The keep-alive CPU floor (syscall_floor.cpp) runs beside them with logging off.
    [ $log = off ] && servers+=(syscall-floor)
    scenario $log keepalive / 50
    scenario $log pipelined / 50 "$top/tests/bench/pipeline.lua"
    servers=(hello-async nginx lighttpd)
    scenario $log close / 50 "$top/tests/bench/close.lua"
    scenario $log 1MiB /files/big.bin 8
    stop_servers
    losses[$log]=$(log_losses "${server_pid[hello-async]}")
done

# 10,000 concurrent /sleep requests (hello-async only: the others have no such route).
write_configs on
taskset -c 0 "$daemon" --config "$work/hello.toml" 2>>"$work/logs/hello.err" &
hello=$!
pids+=("$hello")
wait_port $port_hello
idle_rss=$(awk '/^VmRSS/ { rss = $2 } /^RssAnon/ { anon = $2 } /^RssFile/ { file = $2 }
    END { printf "%s KiB (private %s KiB, shared library and binary pages %s KiB)", rss, anon, file }' \
    "/proc/$hello/status")
: >"$work/sleep-runs"
for _ in $(seq 1 "$runs"); do
    taskset -c 1 "$sleep_clients" $port_hello 10000 /sleep 30 >>"$work/sleep-runs" || true
done
peak_rss=$(awk '/^VmHWM/ { print $2 }' "/proc/$hello/status")
threads=$(awk '/^Threads/ { print $2 }' "/proc/$hello/status")
kill "$hello"; wait "$hello" 2>/dev/null || true

# First connection on an idle activated socket to the first response byte.
: >"$work/activation-runs"
for _ in $(seq 1 "$runs"); do
    systemd-socket-activate -l 127.0.0.1:$port_activate --fdname=http \
        taskset -c 0 "$daemon" --config "$work/hello.toml" 2>>"$work/logs/hello.err" &
    activator=$!
    for _ in $(seq 1 100); do ss -Hltn "sport = :$port_activate" | grep -q LISTEN && break; sleep 0.02; done
    curl -s -o /dev/null -w '%{time_connect} %{time_starttransfer}\n' "http://127.0.0.1:$port_activate/" |
        awk '{ printf "%.2f\n", ($2 - $1) * 1000 }' >>"$work/activation-runs"
    kill "$activator" 2>/dev/null || true
    wait "$activator" 2>/dev/null || true
done

print_table on
print_table off
printf '\n10,000 concurrent /sleep (hello-async, logging on), per run:\n'
sed 's/^/  /' "$work/sleep-runs"
printf '  peak RSS (VmHWM) %s KiB, threads %s\n' "$peak_rss" "$threads"
printf '\nidle RSS after start: %s\n' "$idle_rss"
printf 'socket activation, first connection to first response byte: %s ms (median of %s)\n' \
    "$(median <"$work/activation-runs")" "$runs"
fi

if [[ $parts == *" lean "* ]]; then
# ---- memory: idle keep-alive connections, 10,000 concurrent /sleep, an idle daemon ----
# Idle keep-alive connections: each server fresh in each run, logging off, one process (one
# worker, one I/O thread). lighttpd holds at most server.max-connections, which its fd limit
# bounds: it gets as many as it can hold.
idle_count=15000
lighttpd_idle_count=$((max_fds / 2 - 100))
[ "$lighttpd_idle_count" -lt "$idle_count" ] || lighttpd_idle_count=$idle_count
declare -A idle_count_of=([hello-async]=$idle_count [nginx]=$idle_count [lighttpd]=$lighttpd_idle_count)
declare -A idle_port=([hello-async]=$port_hello [nginx]=$port_nginx [lighttpd]=$port_lighttpd)
for s in "${servers[@]}"; do : >"$work/lean-idle.$s"; done
write_configs off
for _ in $(seq 1 "$runs"); do
    start_servers
    for s in "${servers[@]}"; do
        idle_bytes_per_connection "$s" "${idle_port[$s]}" "${idle_count_of[$s]}" >>"$work/lean-idle.$s"
    done
    stop_servers
done

# 10,000 concurrent /sleep: a fresh daemon for each run and client. Logging on, as the package
# ships; then off, which shows journald's share of the burst in which the delays end.
for log in on off; do
    write_configs $log
    : >"$work/lean-sleep.$log.project"
    : >"$work/lean-sleep.$log.asyncio"
    for _ in $(seq 1 "$runs"); do
        sleep_run "$sleep_clients" >>"$work/lean-sleep.$log.project"
        sleep_run /usr/bin/python3 "$top/tests/bench/sleep_asyncio.py" >>"$work/lean-sleep.$log.asyncio"
    done
done
write_configs on

# An idle daemon (threads = 1, logging on, no request yet) beside a program that links the same
# libraries and only pauses: Pss, the shared pages split between the processes that map them.
# Then, in a round of its own so that the daemon's pages are split as before, the same floor
# beside library_floor --start-up, which uses the libraries as any daemon's start-up must.
pss_kib() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"; }
all_asleep() { # pid...: every thread of each waits
    local pid
    for pid; do
        awk '/^State:/ && $2 != "S" { busy = 1 } END { exit busy }' /proc/"$pid"/task/*/status || return 1
    done
}
settled_pss() { # pid pid: the Pss of both once every thread of both waits
    for _ in $(seq 1 100); do all_asleep "$1" "$2" && break; sleep 0.05; done
    echo "$(pss_kib "$1") $(pss_kib "$2")"
}
: >"$work/lean-pss"
: >"$work/lean-pss-start-up"
for _ in $(seq 1 "$runs"); do
    taskset -c 0 "$daemon" --config "$work/hello.toml" 2>>"$work/logs/hello.err" &
    hello=$!
    taskset -c 0 "$library_floor" &
    floor=$!
    pids+=("$hello" "$floor")
    # Listening, READY sent, and then every thread waits.
    for _ in $(seq 1 100); do ss -Hltn "sport = :$port_hello" | grep -q LISTEN && break; sleep 0.05; done
    settled_pss "$hello" "$floor" >>"$work/lean-pss"
    kill "$hello" "$floor"; wait "$hello" "$floor" 2>/dev/null || true

    taskset -c 0 "$library_floor" --start-up "$work/hello.toml" >"$work/start-up.out" &
    in_use=$!
    taskset -c 0 "$library_floor" &
    floor=$!
    pids+=("$in_use" "$floor")
    # Its line taken by the logging thread, and then every thread waits.
    for _ in $(seq 1 100); do grep -q '^ready' "$work/start-up.out" && break; sleep 0.05; done
    settled_pss "$in_use" "$floor" >>"$work/lean-pss-start-up"
    kill "$in_use" "$floor"; wait "$in_use" "$floor" 2>/dev/null || true
done

printf '\nidle keep-alive connections, each after one GET / with its response read (logging off, one worker; median of %s runs):\n' "$runs"
printf '%-12s %12s %14s %9s\n' server connections bytes/conn vs_nginx
nginx_idle=$(median <"$work/lean-idle.nginx")
for s in "${servers[@]}"; do
    v=$(median <"$work/lean-idle.$s")
    printf '%-12s %12s %14s %9.2f\n' "$s" "${idle_count_of[$s]}" "$v" "$(awk -v a="$v" -v b="$nginx_idle" 'BEGIN { print (b > 0 ? a / b : 0) }')"
done
for log in on off; do
    printf '\n10,000 concurrent /sleep (hello-async, logging %s, a fresh daemon per run):\n' $log
    for client in project asyncio; do
        runs_file=$work/lean-sleep.$log.$client
        sed "s/^/  $client: /" "$runs_file"
        printf '  %s: peak RSS max %s KiB, slowest request max %s ms' "$client" \
            "$(sed -n 's/.*peak_rss_kib=\([0-9]*\).*/\1/p' "$runs_file" | sort -n | tail -1)" \
            "$(sed -n 's/.* slowest_ms=\([0-9.]*\).*/\1/p' "$runs_file" | sort -g | tail -1)"
        [ $log = on ] && printf ' (as the daemon timed it: %s ms)' \
            "$(sed -n 's/.*server_slowest_ms=\([0-9.]*\).*/\1/p' "$runs_file" | sort -g | tail -1)"
        printf '\n'
    done
done
printf '\nidle daemon, threads = 1 (median of %s runs): Pss %s KiB; library floor %s KiB; above the floor %s KiB\n' \
    "$runs" "$(awk '{ print $1 }' "$work/lean-pss" | median)" "$(awk '{ print $2 }' "$work/lean-pss" | median)" \
    "$(awk '{ print $1 - $2 }' "$work/lean-pss" | median)"
printf 'libraries used at start-up, no daemon code (library_floor --start-up): Pss %s KiB; library floor %s KiB; above the floor %s KiB\n' \
    "$(awk '{ print $1 }' "$work/lean-pss-start-up" | median)" "$(awk '{ print $2 }' "$work/lean-pss-start-up" | median)" \
    "$(awk '{ print $1 - $2 }' "$work/lean-pss-start-up" | median)"
fi

# ---- certificates for the HTTPS and HTTP/2 parts ----
pki=$work/pki
mkdir -p "$pki"
ossl() { openssl "$@" 2>>"$work/logs/openssl.log" >/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
    -out "$pki/ca.pem" -days 2 -subj "/CN=bench CA"
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/key.pem" \
    -out "$pki/site.csr" -subj /CN=localhost
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$pki/site.ext"
ossl x509 -req -in "$pki/site.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 2 -extfile "$pki/site.ext" -out "$pki/leaf.pem"
cat "$pki/leaf.pem" "$pki/ca.pem" >"$pki/chain.pem"

if [[ $parts == *" journal "* ]]; then
# access_log_overflow: "drop" never lets journald slow the server, "wait" loses no entry and
# goes at journald's pace. nginx writes its access log file beside it, as the reference.
servers=(hello-async nginx)
for overflow in drop wait; do
    write_configs on
    sed -i "s/^log_target = \"journal\"\$/&\naccess_log_overflow = \"$overflow\"/" "$work/hello.toml"
    grep -q "access_log_overflow = \"$overflow\"" "$work/hello.toml"
    start_servers
    scenario "$overflow" keepalive / 50
    scenario "$overflow" pipelined / 50 "$top/tests/bench/pipeline.lua"
    stop_servers
    losses[$overflow]=$(log_losses "${server_pid[hello-async]}")
done
servers=(hello-async nginx lighttpd)
printf '\nrequest log to journald: access_log_overflow "drop" and "wait" (median of %s runs of %ss)\n' "$runs" "$duration"
printf '%-10s %-11s %-12s %10s %9s %14s %9s %18s\n' overflow scenario server req/s us/req journald_us/req vs_nginx dropped
for overflow in drop wait; do
    for name in keepalive pipelined; do
        nginx_cpu=${result[$overflow,$name,nginx,4]}
        for s in hello-async nginx; do
            cpu=${result[$overflow,$name,$s,4]}
            jcpu=-
            dropped=-
            if [ "$s" = hello-async ]; then
                jcpu=$(printf '%.2f' "${result[$overflow,$name,$s,5]}")
                dropped=${losses[$overflow]:-unknown}
            fi
            printf '%-10s %-11s %-12s %10.0f %9.2f %14s %9.2f %18s\n' "$overflow" "$name" "$s" \
                "${result[$overflow,$name,$s,1]}" "$cpu" "$jcpu" \
                "$(awk -v a="$cpu" -v b="$nginx_cpu" 'BEGIN { print a / b }')" "$dropped"
        done
    done
done
fi

if [[ $parts == *" tls "* ]]; then
# ---- HTTPS: hello-async and nginx with the same certificate, TLS 1.3, logging off ----
port_hello_tls=18443
port_nginx_tls=18444

write_configs off
cat >>"$work/hello.toml" <<TOML
[tls]
listen = ["127.0.0.1:$port_hello_tls"]
protocols = ["TLSv1.3"]
[[tls.certificate]]
chain = "$pki/chain.pem"
key = "$pki/key.pem"
TOML
# nginx's defaults for ssl (session tickets on, no session cache), sendfile, and kernel TLS
# where the kernel has it: its best setting.
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/nginx-error.log;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_requests 1000000;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port_nginx;
        listen 127.0.0.1:$port_nginx_tls ssl;
        ssl_certificate $pki/chain.pem;
        ssl_certificate_key $pki/key.pem;
        ssl_protocols TLSv1.3;
        ssl_conf_command Options KTLS;
        root $www;
        location = / { try_files /hello.html =404; }
        location /files/ { alias $www/; }
    }
}
NGINX
stop_servers_tls() {
    for s in hello-async nginx; do kill "${server_pid[$s]}" 2>/dev/null || true; done
    for s in hello-async nginx; do wait "${server_pid[$s]}" 2>/dev/null || true; done
}
start_servers_tls() {
    taskset -c 0 "$daemon" --config "$work/hello.toml" 2>>"$work/logs/hello.err" &
    server_pid[hello-async]=$!
    taskset -c 0 nginx -c "$work/nginx.conf" -g 'daemon off;' &
    server_pid[nginx]=$!
    pids+=("${server_pid[hello-async]}" "${server_pid[nginx]}")
    wait_port $port_hello
    wait_port $port_nginx
    # One exchange of each kind first: what a server sets up once is not per connection.
    local port
    for port in $port_hello_tls $port_nginx_tls; do
        curl -s --cacert "$pki/ca.pem" -o /dev/null "https://localhost:$port/"
    done
}
start_servers_tls
for port in $port_hello_tls $port_nginx_tls; do
    got=$(curl -s --cacert "$pki/ca.pem" -o /dev/null -w '%{http_code} %{size_download}' \
        "https://localhost:$port/files/big.bin")
    [ "$got" = "200 1048576" ] || { echo "port $port: HTTPS answered '$got'" >&2; exit 1; }
done

servers=(hello-async nginx)
url_base=([hello-async]=https://127.0.0.1:$port_hello_tls [nginx]=https://127.0.0.1:$port_nginx_tls)
ktls_before=$( { grep -E '^TlsTx(Sw|Device) ' /proc/net/tls_stat 2>/dev/null || true; } | awk '{ s += $2 } END { print s + 0 }')
scenario tls keepalive / 50
scenario tls handshake / 50 "$top/tests/bench/close.lua"
scenario tls 1MiB /files/big.bin 8
ktls_after=$( { grep -E '^TlsTx(Sw|Device) ' /proc/net/tls_stat 2>/dev/null || true; } | awk '{ s += $2 } END { print s + 0 }')

# Resumed handshakes: openssl s_time -reuse resumes its first session on every connection. One
# run prints "cpu_us_per_connection connections resumed".
resumed_run() { # server port
    local pid=${server_pid[$1]} before after out
    before=$(cpu_ticks "$pid")
    out=$(taskset -c 1 openssl s_time -connect "127.0.0.1:$2" -reuse -time "$duration" -www / 2>/dev/null)
    after=$(cpu_ticks "$pid")
    local connections resumed
    connections=$(echo "$out" | awk '/connections in [0-9.]+ real seconds/ { n = $1 } END { print n + 0 }')
    resumed=$(echo "$out" | grep -E '^[r*]+$' | tr -cd r | wc -c)
    awk -v b="$before" -v a="$after" -v hz="$hz" -v n="$connections" -v r="$resumed" \
        'BEGIN { printf "%.2f %d %d\n", (a - b) / hz * 1e6 / (n > 0 ? n : 1), n, r }'
}
for s in "${servers[@]}"; do : >"$work/resumed.$s"; done
for _ in $(seq 1 "$runs"); do
    resumed_run hello-async $port_hello_tls >>"$work/resumed.hello-async"
    resumed_run nginx $port_nginx_tls >>"$work/resumed.nginx"
done

stop_servers_tls
# A fresh pair of servers for each measurement: a heap keeps what an earlier run freed.
declare -A idle
for kind in plain tls; do
    start_servers_tls
    if [ $kind = tls ]; then
        idle[hello-async,tls]=$(idle_bytes_per_connection hello-async $port_hello_tls 10000 --tls)
        idle[nginx,tls]=$(idle_bytes_per_connection nginx $port_nginx_tls 10000 --tls)
    else
        idle[hello-async,plain]=$(idle_bytes_per_connection hello-async $port_hello 10000)
        idle[nginx,plain]=$(idle_bytes_per_connection nginx $port_nginx 10000)
    fi
    stop_servers_tls
done

printf '\nHTTPS, logging off (median of %s runs of %ss; TLS 1.3, ECDSA P-256, servers on CPU 0)\n' "$runs" "$duration"
printf '%-30s %-12s %10s %9s %9s %12s %9s\n' scenario server req/s p50_ms p99_ms "us/unit" vs_nginx
for name in keepalive handshake 1MiB; do
    case $name in
    keepalive) label="keep-alive small file" unit=request ;;
    handshake) label="full handshake per request" unit=connection ;;
    1MiB) label="1 MiB file" unit=MiB ;;
    esac
    nginx_cpu=${result[tls,$name,nginx,4]}
    for s in "${servers[@]}"; do
        cpu=${result[tls,$name,$s,4]}
        printf '%-30s %-12s %10.0f %9s %9s %12s %9.2f\n' "$label" "$s" "${result[tls,$name,$s,1]}" \
            "${result[tls,$name,$s,2]}" "${result[tls,$name,$s,3]}" "$(printf '%.2f/%s' "$cpu" "$unit")" \
            "$(awk -v a="$cpu" -v b="$nginx_cpu" 'BEGIN { print a / b }')"
    done
done
hello_resumed=$(awk '{ print $1 }' "$work/resumed.hello-async" | median)
nginx_resumed=$(awk '{ print $1 }' "$work/resumed.nginx" | median)
for s in "${servers[@]}"; do
    cpu=$([ "$s" = nginx ] && echo "$nginx_resumed" || echo "$hello_resumed")
    printf '%-30s %-12s %10s %9s %9s %12s %9.2f   (connections, resumed per run: %s)\n' \
        "resumed handshake (s_time)" "$s" - - - "$(printf '%.2f/connection' "$cpu")" \
        "$(awk -v a="$cpu" -v b="$nginx_resumed" 'BEGIN { print a / b }')" \
        "$(awk '{ printf "%s%s/%s", sep, $2, $3; sep = ", " }' "$work/resumed.$s")"
done
printf '\n10,000 idle keep-alive connections, bytes of RSS per connection:\n'
for kind in tls plain; do
    printf '  %-6s hello-async %6s  nginx %6s  ratio %.2f\n' "$kind" "${idle[hello-async,$kind]}" \
        "${idle[nginx,$kind]}" "$(awk -v a="${idle[hello-async,$kind]}" -v b="${idle[nginx,$kind]}" 'BEGIN { print a / b }')"
done
if [ -r /proc/net/tls_stat ]; then
    printf 'kernel TLS: available; TlsTxSw + TlsTxDevice grew by %s during the HTTPS runs\n' \
        $((ktls_after - ktls_before))
else
    printf 'kernel TLS: not available on this kernel (no /proc/net/tls_stat): both servers encrypt in user space\n'
fi
fi

[[ $parts == *" h2 "* ]] || exit 0

# ---- HTTP/2: hello-async and nginx (http2), same certificate, TLS 1.3, logging off ----
port_hello_h2=18543
port_nginx_h2=18544
port_nginx_h2c=18545
write_configs off
cat >>"$work/hello.toml" <<TOML
[http2]
cleartext = true
[tls]
listen = ["127.0.0.1:$port_hello_h2"]
protocols = ["TLSv1.3"]
[[tls.certificate]]
chain = "$pki/chain.pem"
key = "$pki/key.pem"
TOML
# nginx's own h2c is prior knowledge on a plain listen with http2, as ours.
cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx.pid;
error_log $work/logs/nginx-error.log;
events { worker_connections 16384; }
http {
    access_log off;
    keepalive_requests 1000000;
    http2_max_concurrent_streams 128;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {
        listen 127.0.0.1:$port_nginx;
        listen 127.0.0.1:$port_nginx_h2 ssl http2;
        ssl_certificate $pki/chain.pem;
        ssl_certificate_key $pki/key.pem;
        ssl_protocols TLSv1.3;
        root $www;
        location = / { try_files /hello.html =404; }
        location /files/ { alias $www/; }
    }
    server {
        listen 127.0.0.1:$port_nginx_h2c http2;
        root $www;
        location = / { try_files /hello.html =404; }
        location /files/ { alias $www/; }
    }
}
NGINX
start_servers_h2() {
    taskset -c 0 "$daemon" --config "$work/hello.toml" 2>>"$work/logs/hello.err" &
    server_pid[hello-async]=$!
    taskset -c 0 nginx -c "$work/nginx.conf" -g 'daemon off;' &
    server_pid[nginx]=$!
    pids+=("${server_pid[hello-async]}" "${server_pid[nginx]}")
    wait_port $port_hello
    wait_port $port_nginx
    local url got
    for url in "https://localhost:$port_hello_h2" "https://localhost:$port_nginx_h2"; do
        got=$(curl -s --http2 --cacert "$pki/ca.pem" -o /dev/null \
            -w '%{http_version} %{http_code} %{size_download}' "$url/files/big.bin")
        [ "$got" = "2 200 1048576" ] || { echo "$url: HTTP/2 answered '$got'" >&2; exit 1; }
    done
    for url in "http://127.0.0.1:$port_hello" "http://127.0.0.1:$port_nginx_h2c"; do
        got=$(curl -s --http2-prior-knowledge -o /dev/null -w '%{http_version} %{http_code}' "$url/")
        [ "$got" = "2 200" ] || { echo "$url: h2c answered '$got'" >&2; exit 1; }
    done
}
stop_servers_h2() {
    for s in hello-async nginx; do kill "${server_pid[$s]}" 2>/dev/null || true; done
    for s in hello-async nginx; do wait "${server_pid[$s]}" 2>/dev/null || true; done
}

# One h2load run: prints "req/s server_us_per_request succeeded failed".
h2load_run() { # server url clients streams
    local pid=${server_pid[$1]} before after out
    before=$(cpu_ticks "$pid")
    out=$(taskset -c 1 h2load -D "$duration" -c "$3" -m "$4" "$2" 2>&1)
    after=$(cpu_ticks "$pid")
    echo "$out" | awk -v b="$before" -v a="$after" -v hz="$hz" '
        /^finished in/ { rps = $4 }
        /^requests:/ { ok = $8; failed = $10 }
        END { printf "%s %.2f %d %d\n", rps, (a - b) / hz * 1e6 / (ok > 0 ? ok : 1), ok, failed }'
}
declare -A h2url=([tls,hello-async]=https://127.0.0.1:$port_hello_h2
    [tls,nginx]=https://127.0.0.1:$port_nginx_h2
    [h2c,hello-async]=http://127.0.0.1:$port_hello [h2c,nginx]=http://127.0.0.1:$port_nginx_h2c)
h2_scenario() { # name transport path clients streams
    local name=$1 transport=$2 path=$3 clients=$4 streams=$5 s col
    for s in hello-async nginx; do : >"$work/h2runs.$s"; done
    for _ in $(seq 1 "$runs"); do
        for s in hello-async nginx; do
            h2load_run "$s" "${h2url[$transport,$s]}$path" "$clients" "$streams" >>"$work/h2runs.$s"
        done
    done
    for s in hello-async nginx; do
        for col in 1 2 3 4; do
            result[h2,$name,$s,$col]=$(awk -v c=$col '{ print $c }' "$work/h2runs.$s" | median)
        done
    done
}
start_servers_h2
h2_scenario small-tls tls / 50 10
h2_scenario small-h2c h2c / 50 10
h2_scenario 1MiB tls /files/big.bin 8 1
# HTTP/1.1 keep-alive beside h2c, in the same run: wrk as in the plain part.
servers=(hello-async nginx)
url_base=([hello-async]=http://127.0.0.1:$port_hello [nginx]=http://127.0.0.1:$port_nginx)
scenario h2 http11 / 50
stop_servers_h2

# 10,000 concurrent /sleep: as 10,000 streams over 100 HTTP/2 connections, and as 10,000
# HTTP/1.1 connections, each on a fresh daemon (a heap keeps what an earlier run freed).
sleep_h2() {
    taskset -c 0 "$daemon" --config "$work/hello.toml" 2>>"$work/logs/hello.err" &
    local hello=$!
    pids+=("$hello")
    wait_port $port_hello
    local out
    out=$(taskset -c 1 h2load -n 10000 -c 100 -m 100 "https://127.0.0.1:$port_hello_h2/sleep" 2>&1)
    echo "$out" | awk -v hwm="$(awk '/^VmHWM/ { print $2 }' "/proc/$hello/status")" '
        /^finished in/ { total = $3; sub(/,$/, "", total) }
        /^requests:/ { ok = $8 }
        /^time for request:/ { max = $5 }
        END { printf "%s answered, all within %s, slowest request %s, peak RSS %s KiB\n", ok, total, max, hwm }'
    kill "$hello"; wait "$hello" 2>/dev/null || true
}
: >"$work/sleep-h2"
: >"$work/sleep-h1"
for _ in $(seq 1 "$runs"); do
    sleep_h2 >>"$work/sleep-h2"
    sleep_run "$sleep_clients" >>"$work/sleep-h1"
done

printf '\nHTTP/2, logging off (h2load; median of %s runs of %ss; TLS 1.3, ECDSA P-256, servers on CPU 0, client on CPU 1)\n' "$runs" "$duration"
printf '%-40s %-12s %10s %14s %9s %12s\n' scenario server req/s "us/unit" vs_nginx "ok/failed"
for name in small-tls small-h2c 1MiB; do
    case $name in
    small-tls) label="h2 over TLS, / (-c 50 -m 10)" unit=request ;;
    small-h2c) label="h2c prior knowledge, / (-c 50 -m 10)" unit=request ;;
    1MiB) label="h2 over TLS, 1 MiB (-c 8 -m 1)" unit=MiB ;;
    esac
    nginx_cpu=${result[h2,$name,nginx,2]}
    for s in hello-async nginx; do
        cpu=${result[h2,$name,$s,2]}
        printf '%-40s %-12s %10.0f %14s %9.2f %12s\n' "$label" "$s" "${result[h2,$name,$s,1]}" \
            "$(printf '%.2f/%s' "$cpu" "$unit")" \
            "$(awk -v a="$cpu" -v b="$nginx_cpu" 'BEGIN { print a / b }')" \
            "${result[h2,$name,$s,3]}/${result[h2,$name,$s,4]}"
    done
done
nginx_cpu=${result[h2,http11,nginx,4]}
for s in hello-async nginx; do
    cpu=${result[h2,http11,$s,4]}
    printf '%-40s %-12s %10.0f %14s %9.2f\n' "HTTP/1.1 keep-alive, / (wrk -c 50)" "$s" \
        "${result[h2,http11,$s,1]}" "$(printf '%.2f/request' "$cpu")" \
        "$(awk -v a="$cpu" -v b="$nginx_cpu" 'BEGIN { print a / b }')"
done
printf '\n10,000 concurrent /sleep (hello-async, logging off), per run:\n'
sed 's/^/  h2 (100 connections x 100 streams): /' "$work/sleep-h2"
sed 's/^/  HTTP\/1.1 (10,000 connections):     /' "$work/sleep-h1"
