#!/bin/sh
# Builds hello-async_<version>_amd64.deb from this checkout and prints its path.
# usage: packaging/build-deb.sh [OUTDIR]     (default: build/package)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$top/build/package}" && cd "${1:-$top/build/package}" && pwd)
cd "$top"
"$top/packaging/install-deps.sh" build package

build="$top/build/deb"
# Debian's hardening flags (fortify, stack protector, full RELRO with bind-now), as a
# debhelper build would use them.
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
cxxflags="$(dpkg-buildflags --get CXXFLAGS) $(dpkg-buildflags --get CPPFLAGS)"
ldflags=$(dpkg-buildflags --get LDFLAGS)
# The release preset, in a tree of its own with /usr as the prefix.
cmake --preset release -B "$build" -DBUILD_TESTING=OFF -DCMAKE_INSTALL_PREFIX=/usr \
    -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" >/dev/null
cmake --build "$build" >/dev/null
(cd "$build" && cpack -G DEB -B "$out" >/dev/null)
rm -rf "$out/_CPack_Packages"
# OUTDIR may hold packages of earlier versions: the one just built is the newest. The names are
# our own (no spaces or newlines), so ls is safe here.
# shellcheck disable=SC2012
deb=$(ls -t "$out"/hello-async_*_amd64.deb | head -n 1)
echo "$deb"
