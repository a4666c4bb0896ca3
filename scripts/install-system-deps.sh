#!/usr/bin/env bash
# Installs the system packages gearcheck's tests and targets need, from Debian's
# archive: the C gearmand and its tools, the Perl Gearman::Server, PHP with the
# pecl gearman extension, sqlite3 and tcpdump, and the database servers behind
# gearmand's persistent queues (MariaDB, PostgreSQL, Redis, memcached), which the
# harness starts itself on free loopback ports in temporary data directories.
# Idempotent: does nothing when everything is present. Runs apt-get update once,
# then apt-get install -y (waiting up to 10 minutes for another apt to finish).
set -euo pipefail

PACKAGES=(
  gearman-job-server   # /usr/sbin/gearmand, the C server
  gearman-tools        # gearman, gearadmin (also a client library of the interop matrix)
  libgearman-client-perl  # Perl Gearman::Client and Gearman::Worker (interop matrix)
  gearman-server       # /usr/bin/gearmand, the Perl Gearman::Server
  php-cli php-gearman  # PHP's pecl gearman client and worker
  sqlite3              # inspecting persistent queues
  tcpdump              # loopback captures for the pcap tests
  nodejs npm           # the Node client libraries
  mariadb-server       # gearmand's MySQL queue (mariadbd, mariadb-install-db)
  postgresql           # gearmand's libpq queue (initdb, postgres)
  redis-server         # gearmand's redis queue (hiredis)
  memcached            # gearmand's libmemcached queue
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node/npm may come from outside Debian's packages (preinstalled): accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p")
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
APT=(apt-get -o DPkg::Lock::Timeout=600)
$SUDO "${APT[@]}" update -q
# policy-rc.d in containers denies service starts; we never want the packaged
# services running anyway (the harness starts its own on free loopback ports).
$SUDO "${APT[@]}" install -y -q --no-install-recommends "${missing[@]}"
# Stop any packaged daemon that did start: gearmand would hold port 4730, the
# databases their own ports, and none of them may run as a system service.
for svc in gearman-job-server gearman-server mariadb mysql postgresql redis-server memcached; do
  $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
