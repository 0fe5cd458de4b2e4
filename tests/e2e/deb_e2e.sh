#!/bin/bash
# The package as an administrator meets it: installed with apt into a booted Debian 12 systemd
# (systemd-nspawn), socket-activated, logging to the journal, reloaded, restarted under load,
# serving HTTPS with a certificate as a credential and one as a file (both renewed under load),
# scored by systemd-analyze security, purged.
# usage: tests/e2e/deb_e2e.sh [PATH/TO/hello-async_VERSION_amd64.deb]
# Exit 77 (a loud skip) only when not root or systemd-nspawn cannot boot here.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
skip() { echo "*** SKIPPED: $* ***"; exit 77; }
[ "$(id -u)" = 0 ] || skip "the package end-to-end test needs root (debootstrap, nspawn)"
"$top/packaging/install-deps.sh" build package e2e

deb=${1:-}
built_here=
if [ -z "$deb" ]; then
    deb=$("$top/packaging/build-deb.sh" | tail -n 1)
    built_here=1
fi
deb=$(readlink -f "$deb")
version=$(dpkg-deb -f "$deb" Version)

work=$(mktemp -d /tmp/hello-async-e2e.XXXXXX)
rootfs=$work/rootfs
nspawn_pid=
cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid"
        for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn_pid" 2>/dev/null || true
    fi
    # The container's last processes may still be leaving the tmpfs: wait for them, then detach.
    if mountpoint -q "$work"; then
        for _ in $(seq 1 50); do umount "$work" 2>/dev/null && break; sleep 0.1; done
        mountpoint -q "$work" && umount -l "$work"
    fi
    rm -rf "$work"
}
trap cleanup EXIT
# The rootfs lives in memory: unpacking it there takes a fraction of a second.
mount -t tmpfs -o size=3G,mode=755 tmpfs "$work"

"$here/make-rootfs.sh" "$rootfs"
# Dependencies are fetched in a plain chroot, which has this machine's network, so that the
# install inside the network-less container is a real apt install that resolves offline.
cp /etc/apt/sources.list.d/*.sources "$rootfs/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$rootfs/etc/apt/"
cp -L /etc/resolv.conf "$rootfs/etc/resolv.conf"
# The upgrade: the same sources rebuilt as a newer version.
next_deb=$("$top/packaging/build-deb.sh" "$work/next" e2e1 | tail -n 1)
cp "$deb" "$next_deb" "$rootfs/var/tmp/"
pkg=/var/tmp/$(basename "$deb")
next_pkg=/var/tmp/$(basename "$next_deb")
chroot "$rootfs" apt-get update -qq
chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends --download-only "$pkg" >/dev/null

passed=0
failed=0
check() {
    local what=$1
    shift
    if "$@"; then
        echo "PASS: $what"; passed=$((passed + 1))
    else
        echo "FAIL: $what"; failed=$((failed + 1))
    fi
}

echo "== 0. maintainer scripts without a running systemd (a chroot, as in an image build)"
check "install in a chroot succeeds" chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$pkg"
check "socket enabled by symlink in the chroot" \
    test -L "$rootfs/etc/systemd/system/sockets.target.wants/hello-async.socket"
check "purge in a chroot succeeds" chroot "$rootfs" env DEBIAN_FRONTEND=noninteractive \
    apt-get purge -y -qq hello-async
check "purge in a chroot removes config and enablement" \
    test ! -e "$rootfs/etc/hello-async" -a ! -L "$rootfs/etc/systemd/system/sockets.target.wants/hello-async.socket"

setsid systemd-nspawn -D "$rootfs" -M hello-async-e2e --boot --register=no --keep-unit \
    --private-network --console=passive >"$work/console.log" 2>&1 </dev/null &
nspawn_pid=$!
# nspawn first forks a helper in our pid namespace: the container's init is the child that
# lives in another one.
leader=
my_ns=$(readlink /proc/self/ns/pid)
for _ in $(seq 1 100); do
    for child in $(pgrep -P "$nspawn_pid" || true); do
        ns=$(readlink "/proc/$child/ns/pid" 2>/dev/null || true)
        if [ -n "$ns" ] && [ "$ns" != "$my_ns" ]; then leader=$child; break; fi
    done
    [ -n "$leader" ] && break
    kill -0 "$nspawn_pid" 2>/dev/null || break
    sleep 0.1
done
[ -n "$leader" ] || { cat "$work/console.log"; skip "systemd-nspawn could not boot a container here"; }

inside() { nsenter -t "$leader" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
# A host program inside the container's network namespace (it has only lo).
net() { nsenter -t "$leader" -n -- "$@"; }
state=
for _ in $(seq 1 300); do
    state=$(inside systemctl is-system-running --wait 2>/dev/null || true)
    case $state in running | degraded) break ;; esac
    sleep 0.1
done
echo "container: $state"

# wait_for SECONDS CMD...: true once CMD succeeds, polling; false when time runs out.
wait_for() {
    local tries=$(($1 * 10))
    shift
    for _ in $(seq 1 "$tries"); do "$@" && return 0; sleep 0.1; done
    return 1
}
http_get() { net curl -sS --max-time 10 -o "$work/body" -w '%{http_code}' "http://127.0.0.1:7878$1"; }
answers() { [ "$(http_get "$1")" = "$2" ]; }
unit_is() { [ "$(inside systemctl is-active "$1" || true)" = "$2" ]; }
# The daemon logs into its own journal namespace (LogNamespace=hello-async).
journal_has() { inside journalctl --namespace=hello-async -u hello-async -o cat --no-pager "${@:2}" | grep -qF "$1"; }
port_open() { net curl -s --max-time 2 -o /dev/null http://127.0.0.1:7878/; }

echo "== 0. package file"
if [ -n "$built_here" ]; then
    # Built again in another directory: the same bytes (SOURCE_DATE_EPOCH from the changelog,
    # build paths mapped away by dpkg-buildflags).
    HELLO_ASYNC_DEB_WORK=$work/again "$top/packaging/build-deb.sh" "$work/again-out" >/dev/null
    check "two builds give identical .debs" cmp "$deb" "$work/again-out/$(basename "$deb")"
    check "two builds give identical -dbgsym .debs" cmp "$(dirname "$deb")/hello-async-dbgsym_${version}_amd64.deb" \
        "$work/again-out/hello-async-dbgsym_${version}_amd64.deb"
    rm -rf "$work/again" "$work/again-out"
else
    echo "*** the package was given: the reproducibility check needs a build of its own ***"
fi
check "a -dbgsym package with the binary's debug symbols" bash -c \
    "dpkg-deb -c '$(dirname "$deb")/hello-async-dbgsym_${version}_amd64.deb' | grep -q '/usr/lib/debug/.build-id/.*\.debug$'"
check "the version is the changelog's" test "$version" = "$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)"
check "the binary says the same version" bash -c "dpkg-deb --fsys-tarfile '$deb' | tar -xO ./usr/sbin/hello-async > '$work/hello-async.bin' && chmod +x '$work/hello-async.bin' && '$work/hello-async.bin' --version | grep -qF '$version'"
check "units where debhelper puts them" bash -c "dpkg-deb -c '$deb' | grep -q ' ./lib/systemd/system/hello-async.socket$'"
check "lintian: no errors, no warnings" lintian --fail-on error,warning "$deb"
check "Depends computed by dpkg-shlibdeps" bash -c "dpkg-deb -f '$deb' Depends | grep -q 'libsystemd0 (>='"
check "Depends has libssl3" bash -c "dpkg-deb -f '$deb' Depends | grep -q 'libssl3 (>='"
check "Depends has the nghttp2 with flood limits" bash -c \
    "dpkg-deb -f '$deb' Depends | grep -qF 'libnghttp2-14 (>= 1.52.0-1+deb12u2)'"
check "conffile" bash -c "dpkg-deb --ctrl-tarfile '$deb' | tar -xO ./conffiles | grep -qx /etc/hello-async/hello-async.toml"
check "packaged config serves the packaged pages" bash -c \
    "dpkg-deb --fsys-tarfile '$deb' | tar -xO ./etc/hello-async/hello-async.toml | grep -qx 'root = \"/usr/share/hello-async/www\"'"

echo "== 1. install"
if ! inside env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "$pkg" >"$work/install.log" 2>&1; then
    cat "$work/install.log"
    echo "0 passed, 1 failed"
    exit 1
fi
check "hello-async.socket enabled" test "$(inside systemctl is-enabled hello-async.socket)" = enabled
check "hello-async.socket active" unit_is hello-async.socket active
check "the socket is dual-stack whatever the sysctl says" \
    test "$(inside systemctl show -P BindIPv6Only hello-async.socket)" = both
check "port 7878 listening" bash -c "nsenter -t $leader -n ss -Hltn 'sport = :7878' | grep -q LISTEN"
check "hello-async.service not started yet" unit_is hello-async.service inactive

echo "== 1b. --check-config, run as root, names what the service could not read"
inside sh -c 'mkdir -p /home/site /srv/site &&
    cp /usr/share/hello-async/www/hello.html /home/site/hello.html &&
    install -m 0640 /usr/share/hello-async/www/hello.html /srv/site/hello.html &&
    printf "[[route]]\npath = \"/\"\nfile = \"/home/site/hello.html\"\n[[route]]\npath = \"/x\"\nfile = \"/srv/site/hello.html\"\n" \
        >/etc/hello-async/sandbox-check.toml'
sandbox_report=$(inside hello-async --check-config --config /etc/hello-async/sandbox-check.toml 2>&1 || true)
check "a page below /home is named" grep -qF '/home/site/hello.html: the service could not read it: below /home' <<<"$sandbox_report"
check "a page of mode 0640 is named" grep -qF '/srv/site/hello.html: the service could not read it: the file (mode 0640)' <<<"$sandbox_report"
check "the config is still valid" grep -qF 'configuration ok' <<<"$sandbox_report"
inside rm -rf /home/site /srv/site /etc/hello-async/sandbox-check.toml

echo "== 2. requests"
check "GET / is 200" test "$(http_get /)" = 200
check "port 7878 answers over IPv6 too" \
    nsenter -t "$leader" -n curl -sf --max-time 5 -o /dev/null "http://[::1]:7878/"
check "GET / body is hello.html" cmp -s "$work/body" "$top/www/hello.html"
# A page replaced by a rename is served new at once only if the sandboxed daemon could watch it
# with inotify; checking with fstat instead, it would notice within a second.
www=/usr/share/hello-async/www
inside sh -c "cp $www/hello.html /var/tmp/hello.html && cp $www/hello.html $www/hello.html.new &&
    echo replaced-by-e2e >> $www/hello.html.new && mv $www/hello.html.new $www/hello.html"
serves_replaced_page() {
    net curl -sf --max-time 5 -o "$work/body" http://127.0.0.1:7878/ && grep -q replaced-by-e2e "$work/body"
}
check "a page replaced by a rename is served new at once" serves_replaced_page
inside sh -c "cp /var/tmp/hello.html $www/hello.html.new && mv $www/hello.html.new $www/hello.html"
no_inotify_warning() { ! journal_has inotify_init1; }
check "no inotify warning: the sandbox lets the daemon watch its pages" no_inotify_warning
check "service active after READY=1" wait_for 5 unit_is hello-async.service active
check "started by the socket" bash -c "nsenter -t $leader -a systemctl show -P TriggeredBy hello-async.service | grep -q hello-async.socket"
started=$(date +%s%N)
check "GET /sleep is 200" test "$(http_get /sleep)" = 200
elapsed_ms=$((($(date +%s%N) - started) / 1000000))
check "GET /sleep took at least 5 s (${elapsed_ms} ms)" test "$elapsed_ms" -ge 5000
check "GET /nope is 404" test "$(http_get /nope)" = 404
check "GET /nope body is 404.html" cmp -s "$work/body" "$top/www/404.html"

echo "== 3. journal"
check "journal has GET / HTTP/1.1" wait_for 5 journal_has "GET / HTTP/1.1 200"
check "journal has GET /sleep HTTP/1.1" wait_for 5 journal_has "GET /sleep HTTP/1.1 200"
check "journal has GET /nope HTTP/1.1" wait_for 5 journal_has "GET /nope HTTP/1.1 404"
check "HTTP_STATUS=404 finds /nope" journal_has "GET /nope HTTP/1.1" HTTP_STATUS=404
check "HTTP_STATUS=404 finds nothing else" \
    test "$(inside journalctl --namespace=hello-async -u hello-async -o cat --no-pager HTTP_STATUS=404 | wc -l)" = 1
check "request entries stay out of the system journal" \
    test "$(inside journalctl -u hello-async -o cat --no-pager HTTP_STATUS=404 | wc -l)" = 0
check "the namespace has its own journald" unit_is systemd-journald@hello-async.service active
check "the namespace's vendor settings are in effect" bash -c \
    "nsenter -t $leader -a systemd-analyze cat-config systemd/journald@hello-async.conf | grep -qx 'SystemMaxUse=1G'"

echo "== 4. reload"
conf=/etc/hello-async/hello-async.toml
inside cp "$conf" /var/tmp/original.toml
inside sh -c "printf '\n[[route]]\npath = \"/added\"\nfile = \"hello.html\"\n' >> $conf"
check "systemctl reload succeeds" inside systemctl reload hello-async
# SIGHUP is asynchronous (systemd 252 has no notify-reload): the daemon's READY=1 follows it.
check "added route answers 200" wait_for 5 answers /added 200
inside sh -c "printf '\n[[route]]\npath = \"/broken\"\nfile = \"missing.html\"\n' >> $conf"
check "reload of a broken config fails" bash -c "! nsenter -t $leader -a systemctl reload hello-async 2>$work/reload.err"
sed 's/^/    /' "$work/reload.err"
check "broken config is named in the journal" \
    wait_for 5 journal_has "route[4].file: cannot open /usr/share/hello-async/www/missing.html"
check "old route / still answers" test "$(http_get /)" = 200
check "old route /added still answers" test "$(http_get /added)" = 200
check "service still active" unit_is hello-async.service active
inside cp /var/tmp/original.toml "$conf"

echo "== 4b. a broken config fails loudly, and one restart brings it back"
inside sh -c "printf '\n[[route]]\npath = \"/broken\"\nfile = \"missing.html\"\n' >> $conf"
config_error='route[3].file: cannot open /usr/share/hello-async/www/missing.html'
check "restart with a broken config fails" bash -c "! nsenter -t $leader -a systemctl restart hello-async 2>/dev/null"
check "the service is failed" unit_is hello-async.service failed
inside systemctl status hello-async --no-pager -n 20 >"$work/status" || true
sed 's/^/    /' "$work/status"
status_line=$(grep -E '^ +Status: ' "$work/status" || true)
check "systemctl status: Status: is the error with file, line and column" bash -c \
    "grep -qE '^ +Status: \"/etc/hello-async/hello-async.toml:[0-9]+:[0-9]+: ' <<<'$status_line' &&
     grep -qF '$config_error' <<<'$status_line'"
check "systemctl status: the daemon's last line is the error" \
    bash -c "grep -E ' hello-async\[[0-9]+\]: ' '$work/status' | tail -n 1 | grep -qF '$config_error'"
check "the error is logged at priority err" journal_has "$config_error" -p err
# Connections now wait in the socket and start the failing service again, until the socket's
# trigger limit fails the socket too: the port refuses rather than hangs.
for _ in 1 2 3; do net curl -s --max-time 5 -o /dev/null http://127.0.0.1:7878/ || true; done
check "waiting connections fail the socket (trigger-limit-hit)" \
    test "$(inside systemctl show -P Result hello-async.socket)" = trigger-limit-hit
check "port 7878 refuses" bash -c "! nsenter -t $leader -n curl -s --max-time 5 -o /dev/null http://127.0.0.1:7878/"
inside cp /var/tmp/original.toml "$conf"
check "after the fix, systemctl restart hello-async alone succeeds" inside systemctl restart hello-async
check "GET / is 200 again" answers / 200
check "hello-async.socket active again" unit_is hello-async.socket active
check "hello-async.service active again" unit_is hello-async.service active

# start_load [NAME]: requests until stop_load, one line per answer: plain HTTP, and HTTPS for
# the server name NAME too when given.
start_load() {
    : >"$work/codes"
    rm -f "$work/stop-load"
    (
        for _ in $(seq 1 600); do
            [ -f "$work/stop-load" ] && break
            if [ -n "${1:-}" ]; then
                net curl -sS --max-time 10 --cacert "$pki/ca.pem" --resolve "$1:7443:127.0.0.1" \
                    -o /dev/null -w '%{http_code}\n' "https://$1:7443/" >>"$work/codes" \
                    2>>"$work/load.err" || echo "curl-failed" >>"$work/codes"
            fi
            net curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' http://127.0.0.1:7878/ \
                >>"$work/codes" 2>>"$work/load.err" || echo "curl-failed" >>"$work/codes"
        done
    ) &
    load=$!
    wait_for 10 test -s "$work/codes" || true
}
# stop_load WHAT: lets some more requests through, then stops; checks that none failed.
stop_load() {
    local before
    before=$(wc -l <"$work/codes")
    wait_for 10 test "$(wc -l <"$work/codes")" -gt $((before + 20)) || true
    touch "$work/stop-load"
    wait "$load"
    total=$(wc -l <"$work/codes")
    bad=$(grep -cv '^200$' "$work/codes" || true)
    check "no request failed during $1 ($total sent, $bad failed)" test "$bad" = 0 -a "$total" -gt 20
    [ -s "$work/load.err" ] && sort "$work/load.err" | uniq -c | head -5
    rm -f "$work/load.err"
}

echo "== 5. restart under load"
start_load
inside systemctl restart hello-async
check "service active after restart" wait_for 10 unit_is hello-async.service active
stop_load restart

echo "== 5b. idle exit: the daemon leaves, the socket stays, the next clients are answered"
# Through a drop-in, as an administrator keeps local settings across upgrades.
inside sh -c "printf '\n\n[[route]]\npath = \"/\"\nfile = \"hello.html\"\n' >/etc/hello-async/conf.d/dup.toml"
dup_report=$(inside hello-async --check-config 2>&1 || true)
check "a route repeated in a drop-in names both files and lines" grep -qE \
    '^/etc/hello-async/conf.d/dup.toml:4:[0-9]+: route\[3\]\.path: duplicate route "/", first at /etc/hello-async/hello-async.toml:[0-9]+:[0-9]+: route\[1\]\.path$' <<<"$dup_report"
inside sh -c "printf '[server]\nidle_exit = \"10s\"\n' >/etc/hello-async/conf.d/idle.toml && rm /etc/hello-async/conf.d/dup.toml"
check "--check-config passes with the drop-in" inside hello-async --check-config
check "restart with server.idle_exit = 10s from conf.d/idle.toml" inside systemctl restart hello-async
check "GET / is 200" answers / 200
first_pid=$(inside systemctl show -P MainPID hello-async)
status_counts_down() { inside systemctl show -P StatusText hello-async | grep -q 'idle: exiting in'; }
check "STATUS= counts down to the idle exit" wait_for 8 status_counts_down
check "the service exits on its own" wait_for 20 unit_is hello-async.service inactive
check "with status 0 and result success" test "$(inside systemctl show -P ExecMainStatus hello-async) $(inside systemctl show -P Result hello-async)" = "0 success"
check "the journal says why" journal_has "no connection for 10s: exiting"
check "hello-async.socket stays active" unit_is hello-async.socket active
# A burst at the stopped service: the socket holds every connection until the new instance
# accepts it.
burst=()
for i in $(seq 1 20); do
    net curl -sS --max-time 10 -o /dev/null -w '%{http_code}\n' http://127.0.0.1:7878/ >"$work/burst.$i" 2>&1 &
    burst+=($!)
done
wait "${burst[@]}"
check "20 requests at once to the stopped service: all 200" \
    test "$(cat "$work"/burst.* | grep -cx 200)" = 20
check "answered by a new instance" \
    bash -c "[ \"\$(nsenter -t $leader -a systemctl show -P MainPID hello-async)\" != '$first_pid' ]"
check "hello-async.service active again" unit_is hello-async.service active
inside rm /etc/hello-async/conf.d/idle.toml
inside systemctl restart hello-async

echo "== 6. HTTPS"
# A test CA and certificates made now: no key is ever committed.
pki=$work/pki
mkdir -p "$pki"
ossl() { openssl "$@" >>"$pki/openssl.log" 2>&1; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" \
    -out "$pki/ca.pem" -days 30 -subj "/CN=hello-async e2e CA"
# issue NAME DNS [KEY]: NAME.pem signed by the CA for DNS, with KEY or a new NAME.key.
issue() {
    local key=${3:-$pki/$1.key}
    [ -f "$key" ] || ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key"
    ossl req -new -key "$key" -out "$pki/$1.csr" -subj "/CN=$2"
    printf 'subjectAltName=DNS:%s\n' "$2" >"$pki/$1.ext"
    ossl x509 -req -in "$pki/$1.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial \
        -days 30 -extfile "$pki/$1.ext" -out "$pki/$1.pem"
}
serial_of() { openssl x509 -noout -serial -in "$1" | cut -d= -f2; }
# served_serial NAME: the serial of the certificate port 7443 presents for SNI NAME.
served_serial() {
    net openssl s_client -connect 127.0.0.1:7443 -servername "$1" </dev/null 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
serves_serial() { [ "$(served_serial "$1")" = "$2" ]; }
https_get() {
    net curl -sS --max-time 10 --cacert "$pki/ca.pem" --resolve "$2:7443:127.0.0.1" \
        -o "$work/body" -w '%{http_code}' "https://$2:7443$1"
}
issue site localhost
issue files files.test
cp "$pki/site.pem" "$pki/site.key" "$rootfs/var/tmp/"
# The README's four commands, as an administrator runs them.
inside install -D -m 0644 /var/tmp/site.pem /etc/hello-async/tls/chain.pem
inside install -D -m 0600 /var/tmp/site.key /etc/hello-async/tls/key.pem
inside install -D -m 0644 /usr/share/doc/hello-async/examples/https-credentials.conf \
    /etc/systemd/system/hello-async.service.d/https.conf
check "HTTPS turned on with the README's commands" inside sh -c \
    'systemctl daemon-reload && systemctl stop hello-async && systemctl enable --now hello-async-https.socket && systemctl start hello-async'
unit_is hello-async-https.socket active ||
    inside journalctl -u hello-async-https.socket -u hello-async --no-pager | tail -n 20
check "hello-async-https.socket active" unit_is hello-async-https.socket active
check "the HTTPS drop-in makes the service require its socket (restart brings both back)" \
    bash -c "nsenter -t $leader -a systemctl show -P Requires hello-async.service | grep -qw hello-async-https.socket"
check "GET / over HTTPS is 200 (key and chain as credentials)" wait_for 10 \
    test "$(https_get / localhost)" = 200
check "GET / over HTTPS body is hello.html" cmp -s "$work/body" "$top/www/hello.html"
check "GET / over plain HTTP still 200" test "$(http_get /)" = 200
check "the key file is root's alone" test "$(inside stat -c '%U %a' /etc/hello-async/tls/key.pem)" = "root 600"
check "curl speaks HTTP/2 over HTTPS (ALPN h2)" test "$(net curl -sS --max-time 10 \
    --cacert "$pki/ca.pem" --resolve localhost:7443:127.0.0.1 -o /dev/null \
    -w '%{http_version}' https://localhost:7443/)" = 2
check "journal has HTTP_VERSION=2 with TLS_PROTOCOL=TLSv1.3" wait_for 5 \
    journal_has "GET / HTTP/2 200" HTTP_VERSION=2 TLS_PROTOCOL=TLSv1.3
check "HTTP/1.1 over HTTPS still 200" test "$(net curl -sS --max-time 10 --http1.1 \
    --cacert "$pki/ca.pem" --resolve localhost:7443:127.0.0.1 -o /dev/null \
    -w '%{http_version} %{http_code}' https://localhost:7443/)" = "1.1 200"

# A second certificate: its chain a plain file in the config, its key a credential.
cp "$pki/files.pem" "$rootfs/etc/hello-async/tls/files.pem"
cp "$pki/files.key" "$rootfs/var/tmp/files.key"
inside install -m 0600 /var/tmp/files.key /etc/hello-async/tls/files.key
inside sh -c "printf '[Service]\nLoadCredential=files.key:/etc/hello-async/tls/files.key\n' \
    > /etc/systemd/system/hello-async.service.d/files.conf"
inside sh -c "printf '\n[[tls.certificate]]\nchain = \"credential:tls.chain\"\nkey = \"credential:tls.key\"\n[[tls.certificate]]\nchain = \"/etc/hello-async/tls/files.pem\"\nkey = \"credential:files.key\"\n' >> $conf"
inside systemctl daemon-reload
check "restart with two certificates" inside systemctl restart hello-async
check "SNI files.test gets its certificate" wait_for 10 serves_serial files.test "$(serial_of "$pki/files.pem")"
check "SNI localhost gets the credential one" serves_serial localhost "$(serial_of "$pki/site.pem")"
check "GET / over HTTPS for files.test is 200" test "$(https_get / files.test)" = 200

# Renewal of a file certificate (same key): systemctl reload.
issue files files.test "$pki/files.key"
start_load files.test
cp "$pki/files.pem" "$rootfs/etc/hello-async/tls/files.pem"
check "systemctl reload with the renewed file certificate" inside systemctl reload hello-async
check "new connections get the renewed file certificate" \
    wait_for 10 serves_serial files.test "$(serial_of "$pki/files.pem")"
stop_load "the certificate reload"

# Renewal of a credential (a new key and chain): systemctl restart.
rm -f "$pki/site.key"
issue site localhost
cp "$pki/site.pem" "$pki/site.key" "$rootfs/var/tmp/"
inside install -m 0644 /var/tmp/site.pem /etc/hello-async/tls/chain.pem
inside install -m 0600 /var/tmp/site.key /etc/hello-async/tls/key.pem
start_load localhost
check "systemctl restart with the renewed credentials" inside systemctl restart hello-async
check "new connections get the renewed credential certificate" \
    wait_for 10 serves_serial localhost "$(serial_of "$pki/site.pem")"
stop_load "the credential restart"
check "plain HTTP on the HTTPS port gets 400" bash -c \
    "nsenter -t $leader -n curl -s --max-time 5 http://127.0.0.1:7443/ | grep -q 'This port expects HTTPS'"

echo "== 6b. back to the system journal with a drop-in, as the README says"
inside mkdir -p /etc/systemd/system/hello-async.service.d
inside sh -c "printf '[Service]\nLogNamespace=\n' > /etc/systemd/system/hello-async.service.d/journal.conf"
inside systemctl daemon-reload
check "restart without the namespace" inside systemctl restart hello-async
check "GET /system-journal is 404" answers /system-journal 404
check "its entry is in the system journal" wait_for 5 bash -c \
    "nsenter -t $leader -a journalctl -u hello-async -o cat --no-pager HTTP_STATUS=404 | grep -qF 'GET /system-journal HTTP/1.1 404'"
inside rm /etc/systemd/system/hello-async.service.d/journal.conf
inside systemctl daemon-reload
inside systemctl restart hello-async

echo "== 6c. upgrade to a rebuilt newer version under load"
socket_since=$(inside systemctl show -P ActiveEnterTimestampMonotonic hello-async.socket)
check "the service runs before the upgrade" wait_for 10 answers / 200
service_pid=$(inside systemctl show -P MainPID hello-async)
service_started=$(inside systemctl show -P ExecMainStartTimestampMonotonic hello-async)
echo "before the upgrade: MainPID $service_pid, started at $service_started"
check "the service has a main process before the upgrade" test "$service_pid" != 0
start_load
check "apt upgrades to $(basename "$next_pkg")" inside env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "$next_pkg"
# shellcheck disable=SC2016 # dpkg-query's format, not the shell's
check "the new version is installed" test "$(inside dpkg-query -W -f='${Version}' hello-async)" = "$version+e2e1"
service_restarted() {
    local p s
    p=$(inside systemctl show -P MainPID hello-async)
    s=$(inside systemctl show -P ExecMainStartTimestampMonotonic hello-async)
    [ "$p" != 0 ] && [ "$p" != "$service_pid" ] && [ "$s" != "$service_started" ]
}
check "the running service was restarted" wait_for 10 service_restarted
echo "after the upgrade: MainPID $(inside systemctl show -P MainPID hello-async)"
check "the socket never closed (not restarted)" \
    test "$(inside systemctl show -P ActiveEnterTimestampMonotonic hello-async.socket)" = "$socket_since"
stop_load "the upgrade"
check "the HTTPS socket is still enabled as the administrator left it" \
    test "$(inside systemctl is-enabled hello-async-https.socket)" = enabled

echo "== 7. hardening"
exposure=$(inside systemd-analyze security hello-async.service --no-pager |
    sed -n 's/.*Overall exposure level for hello-async.service: \([0-9.]*\).*/\1/p')
echo "exposure: $exposure"
check "systemd-analyze security is 1.0 or lower" awk -v e="${exposure:-99}" 'BEGIN { exit !(e <= 1.0) }'
check "systemd-analyze verify passes" inside systemd-analyze verify \
    /lib/systemd/system/hello-async.socket /lib/systemd/system/hello-async-https.socket \
    /lib/systemd/system/hello-async.service

echo "== 8. purge"
inside env DEBIAN_FRONTEND=noninteractive apt-get purge -y -q hello-async >"$work/purge.log" 2>&1 ||
    cat "$work/purge.log"
check "binary gone" inside test ! -e /usr/sbin/hello-async
check "config gone" inside test ! -e /etc/hello-async
check "units gone" inside sh -c 'test ! -e /lib/systemd/system/hello-async.socket && test ! -e /lib/systemd/system/hello-async-https.socket && test ! -e /lib/systemd/system/hello-async.service'
check "no enablement symlink left" inside test ! -e /etc/systemd/system/sockets.target.wants/hello-async.socket
check "port 7878 closed" bash -c "! port_open_cmd=1 nsenter -t $leader -n curl -s --max-time 2 -o /dev/null http://127.0.0.1:7878/"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
