#!/usr/bin/env bash
# Installs Chromium from Debian's packages, for the console's browser tests (test/console/: playwright-core
# drives it; `make test` runs this). playwright-core brings no browser of its own and its browser download is
# not used. Quick when Chromium is already installed.
set -euo pipefail

command -v chromium >/dev/null && exit 0

# Root installs directly; anyone else needs sudo.
run_as_root=""
[ "$(id -u)" = 0 ] || run_as_root="sudo"
if [ -n "$run_as_root" ] && ! command -v sudo >/dev/null; then
  echo "owlet setup: the console's browser tests need Debian's chromium package; run this script as root" >&2
  exit 1
fi

echo "owlet setup: installing Chromium from Debian's packages (for the console's browser tests)"
$run_as_root apt-get update -qq
# Fonts too, so that the tests' screenshots show text.
$run_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null || { echo "owlet setup: the chromium package is installed but there is no chromium command" >&2; exit 1; }
