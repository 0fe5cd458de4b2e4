#!/bin/sh
# Makes a bootable Debian 12 root file system for the package's end-to-end test: restored from
# a cached tarball when there is one, else built with debootstrap from the mirror that this
# machine's apt already uses, and cached.
# usage: tests/e2e/make-rootfs.sh ROOTFS [CACHE_TARBALL]
set -eu
rootfs=${1:?rootfs dir}
# man-db: systemd-analyze verify checks the units' Documentation= man pages.
packages=systemd,systemd-sysv,dbus,libsystemd0,iproute2,curl,ca-certificates,man-db
# The package list is part of the cache's name, so a changed list makes a new cache.
cache=${2:-/var/cache/hello-async-e2e/bookworm-$(echo "$packages" | md5sum | cut -c1-12).tar.zst}

mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)

rm -rf "$rootfs"
mkdir -p "$rootfs"
if [ -f "$cache" ]; then
    tar --zstd -xpf "$cache" -C "$rootfs" --numeric-owner
    exit 0
fi
[ -n "$mirror" ] || { echo "make-rootfs: no Debian mirror in the apt configuration" >&2; exit 1; }
log=$(mktemp)
if ! debootstrap --variant=minbase --include="$packages" bookworm "$rootfs" "$mirror" >"$log" 2>&1; then
    tail -20 "$log" >&2
    rm -f "$log"
    exit 1
fi
rm -f "$log" "$rootfs/var/log/bootstrap.log"
# debootstrap's sources.list names the mirror; the test copies this machine's sources in.
rm -f "$rootfs/etc/apt/sources.list"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
       "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/locale/*
# An empty machine-id makes every boot a first boot with a fresh id.
: > "$rootfs/etc/machine-id"
mkdir -p "$(dirname "$cache")"
tar --zstd -cpf "$cache.tmp" -C "$rootfs" --numeric-owner .
mv "$cache.tmp" "$cache"
