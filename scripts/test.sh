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

# Real parts the tests drive, from Debian's packages, installed when missing (as root with apt);
# each test skips with a message when its program is still missing:
# - chromium: the browser test (crates/rootline/tests/timeline_browser.rs);
# - prometheus: the scrape test (crates/rootline/tests/prometheus_scrape.rs) and the pull test;
# - prometheus-alertmanager: a rule's alert through a real Alertmanager into `rootline serve`
#   (crates/rootline/tests/alertmanager_real.rs);
# - victoria-metrics: the pull test against a second implementation of the query API
#   (crates/rootline/tests/prometheus_pull.rs).
install_if_missing() { # command package
  if ! command -v "$1" >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing $2 for the tests that need it..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q "$2" >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$2" >/dev/null 2>&1; } \
      || echo "could not install $2: the tests that need it will skip" >&2
  fi
}
install_if_missing chromium chromium
install_if_missing prometheus prometheus
install_if_missing victoria-metrics victoria-metrics
install_if_missing prometheus-alertmanager prometheus-alertmanager

exec cargo test --workspace "$@"
