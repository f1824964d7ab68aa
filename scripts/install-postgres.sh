#!/usr/bin/env bash
# Installs the PostgreSQL server from Debian's packages, for the PostgreSQL StateStore tests (`make test` runs
# this; the default server uses SQLite and does not need it). Quick when a server is already installed.
#
# The tests start a throwaway server of their own (test/support/postgres.ts: initdb in a temporary directory,
# a free port, a socket in that directory), so they neither need nor disturb the cluster the package may create
# and start on port 5432.
set -euo pipefail

installed() { compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; }

if installed; then
  exit 0
fi

if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null; then
  as_root=(sudo)
else
  echo "owlet setup: the PostgreSQL tests need Debian's postgresql package; run this script as root" >&2
  exit 1
fi

echo "owlet setup: installing PostgreSQL from Debian's packages (for the PostgreSQL state store tests)"
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null

if ! installed; then
  echo "owlet setup: the postgresql package is installed but no initdb and postgres are under /usr/lib/postgresql/*/bin" >&2
  exit 1
fi
