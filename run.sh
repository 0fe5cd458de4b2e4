#!/bin/sh
# Builds the release binary and runs the daemon in the foreground with the repository's config
# (port 7878, pages from www/). Extra arguments go to the daemon.
set -eu
cd "$(dirname "$0")"
packaging/install-deps.sh build
cmake --preset release -DBUILD_TESTING=OFF >/dev/null
cmake --build --preset release --target hello-async
exec build/release/daemon/hello-async --config config/hello-async.toml "$@"
