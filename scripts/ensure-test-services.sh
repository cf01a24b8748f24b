#!/usr/bin/env bash
# Make sure what the test suite talks to is there: PostgreSQL and Redis answering on
# loopback, Debian's Chromium for the browser tests, Dovecot for the mail tests. Start what is
# stopped, install what is missing (as root, from Debian's packages), otherwise fail with
# what to do.
set -euo pipefail

PG_HOST=127.0.0.1 PG_PORT=5432 REDIS_PORT=6379
is_root() { [ "$(id -u)" = 0 ]; }
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 50); do answers "$port" && return 0; sleep 0.2; done
  echo "$name does not answer on 127.0.0.1:$port." >&2; return 1
}
apt_updated=""
apt_install() {
  if ! is_root || ! command -v apt-get >/dev/null; then
    echo "Missing $*: install the Debian package(s) '$*' (as root) and run 'make test' again." >&2
    exit 1
  fi
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  echo "==> installing $*"
  # A policy-rc.d that refuses lets us install servers without Debian starting them on its own.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  rm -f /usr/sbin/policy-rc.d
}

# PostgreSQL
if ! answers $PG_PORT; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
    version=$(ls /etc/postgresql | sort -V | tail -1)
    # Trust auth on loopback, as on the CI machines.
    sed -i -E 's/^(host\s+all\s+all\s+127\.0\.0\.1\/32\s+)\S+/\1trust/; s/^(local\s+all\s+postgres\s+)\S+/\1trust/' \
      "/etc/postgresql/$version/main/pg_hba.conf"
  fi
  version=$(ls /etc/postgresql | sort -V | tail -1)
  echo "==> starting PostgreSQL $version"
  if is_root; then
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
  else
    echo "PostgreSQL is stopped; start it (pg_ctlcluster $version main start) and run again." >&2; exit 1
  fi
  wait_for $PG_PORT PostgreSQL
fi

# Redis
if ! answers $REDIS_PORT; then
  command -v redis-server >/dev/null || apt_install redis-server
  echo "==> starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port $REDIS_PORT --save "" --appendonly no \
    --dir "${TMPDIR:-/tmp}" --logfile "${TMPDIR:-/tmp}/fluenzr-test-redis.log"
  wait_for $REDIS_PORT Redis
fi

# Chromium, driven by Playwright (its own browser download cannot work here).
[ -x /usr/bin/chromium ] || apt_install chromium fonts-dejavu-core

# Dovecot (IMAP) and openssl: the mail tests start their own loopback instance (tests/mail).
command -v dovecot >/dev/null || apt_install dovecot-imapd
command -v openssl >/dev/null || apt_install openssl
echo "==> PostgreSQL on $PG_HOST:$PG_PORT, Redis on 127.0.0.1:$REDIS_PORT, Chromium at /usr/bin/chromium, $(dovecot --version | cut -d' ' -f1 | sed 's/^/Dovecot /')"
