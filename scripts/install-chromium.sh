#!/usr/bin/env bash
# Installs Chromium from Debian's packages, for the console's browser tests (test/console/: playwright-core
# drives it; `make test` runs this). playwright-core brings no browser of its own and its browser download is
# not used. Quick when Chromium is already installed.
set -euo pipefail

command -v chromium >/dev/null && exit 0

echo "owlet setup: installing Chromium from Debian's packages (for the console's browser tests)"
# Fonts too, so that the tests' screenshots show text.
bash "$(dirname "${BASH_SOURCE[0]}")/apt-install.sh" chromium fonts-dejavu-core
command -v chromium >/dev/null || { echo "owlet setup: the chromium package is installed but there is no chromium command" >&2; exit 1; }
