#!/bin/sh
# Installs what bench/run.ts uses besides Node: wrk (the load driver), nginx and Varnish with
# varnish-modules (the reference caches of scenarios a and c). Debian/Ubuntu, as root (or sudo).
# Idempotent: packages already installed are left alone, and apt-get runs only when one is missing.
#   sudo bench/setup.sh          # then: npx tsx bench/run.ts
set -eu

PACKAGES="wrk nginx varnish varnish-modules"

missing=""
SUDO=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  echo "bench/setup.sh: already installed: $PACKAGES"
else
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "bench/setup.sh: no apt-get here; install$missing yourself (run.ts skips the rows of a missing tool)" >&2
    exit 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "bench/setup.sh: run as root to install:$missing" >&2
      exit 1
    fi
  fi
  echo "bench/setup.sh: installing:$missing"
  $SUDO apt-get update
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends $missing
fi

# Installing nginx or varnish enables and (where an init system runs) starts its system service:
# a stock nginx on :80 or varnishd on :6081 the bench never uses, which would only take CPU from
# the measurements (the bench starts its own instances on free ports). Stop the services this
# install started; services that were there before are left alone.
for s in nginx varnish; do
  case " $missing " in *" $s "*) ;; *) continue ;; esac
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-active --quiet "$s" 2>/dev/null; then
      echo "bench/setup.sh: stopping and disabling the $s service the install started (the bench runs its own)"
      $SUDO systemctl disable --now "$s" || true
    fi
  elif command -v service >/dev/null 2>&1 && service "$s" status >/dev/null 2>&1; then
    echo "bench/setup.sh: stopping the $s service the install started (the bench runs its own)"
    $SUDO service "$s" stop || true
  fi
done

# The bodyaccess vmod is what lets Varnish key a POST by its body.
for d in /usr/lib/x86_64-linux-gnu/varnish/vmods /usr/lib/aarch64-linux-gnu/varnish/vmods /usr/lib/varnish/vmods; do
  if [ -f "$d/libvmod_bodyaccess.so" ]; then found="$d"; fi
done
if [ -z "${found:-}" ]; then
  echo "bench/setup.sh: warning: libvmod_bodyaccess.so not found; the Varnish rows will be skipped" >&2
fi
echo "bench/setup.sh: $(wrk -v 2>&1 | head -n 1); $(nginx -v 2>&1); $(varnishd -V 2>&1 | head -n 1)"
