#!/usr/bin/env bash
# Make sure the real services the tests talk to are up: PostgreSQL on 127.0.0.1:5432
# (trust auth), Mosquitto on 127.0.0.1:1883, and Debian's chromium for browser tests.
# Installs from Debian packages when missing; fails loudly when it cannot.
set -euo pipefail

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

# PostgreSQL
if ! port_open 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    apt_install postgresql
  fi
  version="$(ls /etc/postgresql | sort -V | tail -1)"
  conf="/etc/postgresql/$version/main"
  if ! grep -q "^host all all 127.0.0.1/32 trust" "$conf/pg_hba.conf"; then
    sed -i '1i host all all 127.0.0.1/32 trust\nlocal all all trust' "$conf/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 5432 || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; exit 1; }
fi

# Mosquitto
if ! port_open 1883; then
  command -v mosquitto >/dev/null 2>&1 || apt_install mosquitto
  mosquitto -d -c /etc/mosquitto/mosquitto.conf 2>/dev/null || true
  if ! wait_port 1883; then
    conf="$(mktemp /tmp/mosquitto-XXXX.conf)"
    printf 'listener 1883 127.0.0.1\nallow_anonymous true\n' > "$conf"
    (mosquitto -c "$conf" >/tmp/mosquitto-ci.log 2>&1 &)
    wait_port 1883 || { echo "Mosquitto did not start on 127.0.0.1:1883" >&2; exit 1; }
  fi
fi

# nginx for `estateflow stack` and its test (tests/app/test_stack.py); the distribution's own
# site on port 80 is not wanted here: stop it if the package started it.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  apt_install nginx
  (nginx -s stop || pkill -x nginx) >/dev/null 2>&1 || true
fi

# Chromium (Playwright's own browser download does not work offline)
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi

# A CJK font so screenshots of Chinese pages are readable (tests read text, not pixels).
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  apt_install fonts-wqy-microhei || echo "warning: no CJK font installed; screenshots show boxes" >&2
fi

# pdftoppm renders the audit pack PDF in its test (tests/app/platform/test_audit_pack.py).
if ! command -v pdftoppm >/dev/null 2>&1; then
  apt_install poppler-utils || echo "warning: poppler-utils missing; the audit pack PDF is not rendered in tests" >&2
fi
