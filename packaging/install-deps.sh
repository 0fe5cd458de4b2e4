#!/bin/sh
# Installs the Debian 12 packages a task needs, skipping apt entirely when all are present.
# usage: packaging/install-deps.sh build|test|package|e2e|fuzz|bench ...
set -eu
here=$(cd "$(dirname "$0")" && pwd)

# The package's Build-Depends are the build's dependencies: one list, in debian/control.
# Version constraints are dropped (Debian 12's packages meet them), and debhelper-compat is
# debhelper's.
build_depends() {
    awk '/^Build-Depends:/ { on = 1; sub(/^Build-Depends:/, "") }
         on && /^[A-Za-z-]+:/ && !/^Build-Depends:/ { on = 0 }
         on { print }' "$here/debian/control" |
        tr ',' '\n' | sed 's/([^)]*)//g; s/^[[:space:]]*//; s/[[:space:]]*$//' |
        sed 's/^debhelper-compat$/debhelper/' | grep -v '^$' | tr '\n' ' '
}

packages=""
for need in "$@"; do
    case $need in
    build)
        packages="$packages $(build_depends)" ;;
    test)
        packages="$packages libgtest-dev systemd socat curl shellcheck clang-tidy openssl testssl.sh dnsutils
                  nghttp2-client python3-h2 chromium" ;;
    package)
        packages="$packages dpkg-dev debhelper file lintian" ;;
    bench)
        packages="$packages nginx-light lighttpd wrk util-linux iproute2 curl" ;;
    fuzz)
        packages="$packages clang libclang-rt-14-dev" ;;
    e2e)
        packages="$packages systemd-container debootstrap zstd iproute2 curl" ;;
    *)
        echo "install-deps.sh: unknown need '$need'" >&2; exit 64 ;;
    esac
done

missing=""
for p in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps.sh: missing packages:$missing (run as root, or install them)" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
# Another apt run on the machine may hold the lock for a while.
apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
