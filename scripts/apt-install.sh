#!/usr/bin/env bash
# apt-install.sh PACKAGE...: installs Debian packages for Owlet's setup, as root or through sudo. Two setups on
# one machine (two checkouts' `make test` at once) would otherwise race for dpkg's lock and one would fail:
# Owlet's installs take turns on a lock of their own, and apt waits for a dpkg lock that anything else holds.
set -euo pipefail
as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "owlet setup: installing $* needs root; run the setup as root or install sudo" >&2; exit 1; }
  as_root=(sudo)
fi
apt=(apt-get -qq -o DPkg::Lock::Timeout=900)
"${as_root[@]}" flock --timeout 1800 /var/lock/owlet-apt.lock \
  env DEBIAN_FRONTEND=noninteractive sh -c '"$@" update && "$@" install -y --no-install-recommends '"$*"' >/dev/null' \
  apt-install "${apt[@]}"
