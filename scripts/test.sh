#!/usr/bin/env bash
# Runs every test of the workspace. The store and server tests need PostgreSQL on 127.0.0.1:5432
# (user postgres, trust auth); this starts the local cluster when it is down.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    echo "starting PostgreSQL..." >&2
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do
      pg_isready -h 127.0.0.1 -p 5432 -q && break
      sleep 1
    done
  fi
  pg_isready -h 127.0.0.1 -p 5432 -q || {
    echo "PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started" >&2
    exit 1
  }
fi

# The browser test (crates/rootline/tests/timeline_browser.rs) drives Debian's Chromium; it skips
# with a message when none is installed and this script cannot install it (not root, no apt).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the browser test..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } \
    || echo "could not install chromium: the browser test will skip" >&2
fi

# The scrape test (crates/rootline/tests/prometheus_scrape.rs) runs Debian's Prometheus against
# a running `rootline serve`; it skips with a message when none is installed and this script
# cannot install it.
if ! command -v prometheus >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing prometheus for the scrape test..." >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q prometheus >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q prometheus >/dev/null 2>&1; } \
    || echo "could not install prometheus: the scrape test will skip" >&2
fi

exec cargo test --workspace "$@"
