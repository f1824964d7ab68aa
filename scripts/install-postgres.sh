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

echo "owlet setup: installing PostgreSQL from Debian's packages (for the PostgreSQL state store tests)"
bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" postgresql

if ! installed; then
  echo "owlet setup: the postgresql package is installed but no initdb and postgres are under /usr/lib/postgresql/*/bin" >&2
  exit 1
fi
