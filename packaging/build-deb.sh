#!/bin/sh
# Builds hello-async_<version>_amd64.deb (and its -dbgsym package) with debhelper and prints the
# .deb's path. The sources are copied below build/, debian/ is laid beside them from
# packaging/debian/, and dpkg-buildpackage writes its files next to that copy, so nothing lands
# outside the checkout's build/ directory.
# usage: packaging/build-deb.sh [OUTDIR [VERSION_SUFFIX]]   (default: build/package)
#   VERSION_SUFFIX: build VERSION+SUFFIX, a newer version (the package test's upgrade).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$top/build/package}" && cd "${1:-$top/build/package}" && pwd)
suffix=${2:-}
"$top/packaging/install-deps.sh" build package

version=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)
# HELLO_ASYNC_DEB_WORK: another place to build, for the check that two builds are identical.
work=${HELLO_ASYNC_DEB_WORK:-$top/build/debian}
src=$work/hello-async-$version
no_clean=
if [ -n "$suffix" ] && [ -d "$src/debian" ]; then
    # A newer version of the tree just built: only the changelog differs, and its objects are
    # reused (no clean), which takes seconds rather than a whole build.
    no_clean=-nc
else
    rm -rf "$work"
    mkdir -p "$src"
    # The tree as committed or not, without build products or the repository itself.
    tar -C "$top" --exclude=./build --exclude=./.git -cf - . | tar -C "$src" -xf -
    cp -R "$src/packaging/debian" "$src/debian"
fi
if [ -n "$suffix" ]; then
    changelog=$src/packaging/debian/changelog
    new=$version+$suffix
    {
        printf 'hello-async (%s) bookworm; urgency=medium\n\n  * Rebuild as a newer version.\n\n' "$new"
        # A second after the entry below: SOURCE_DATE_EPOCH comes from the newest entry.
        printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$changelog" -S Maintainer)" \
            "$(date -R -u -d "@$(($(dpkg-parsechangelog -l "$changelog" -S Timestamp) + 1))")"
        cat "$changelog"
    } >"$changelog.new"
    mv "$changelog.new" "$changelog"
    cp "$changelog" "$src/debian/changelog"
    version=$new
fi
# shellcheck disable=SC2086 # $no_clean is one option or none
if ! (cd "$src" && dpkg-buildpackage -us -uc -b $no_clean >"$work/build.log" 2>&1); then
    tail -n 40 "$work/build.log" >&2
    exit 1
fi
cp "$work/hello-async_${version}_amd64.deb" "$work/hello-async-dbgsym_${version}_amd64.deb" "$out/"
echo "$out/hello-async_${version}_amd64.deb"
