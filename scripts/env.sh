# Sourced by the project's scripts: puts the project's Node.js, node_modules/.bin and the virtualenv on PATH.
owlet_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x "$owlet_root/.tools/node/bin/node" ]; then
  OWLET_NODE="$owlet_root/.tools/node/bin/node"
elif command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 22 ]; then
  OWLET_NODE="$(command -v node)"
else
  OWLET_NODE="$owlet_root/.tools/node/bin/node"
fi
export OWLET_NODE
export PATH="$(dirname "$OWLET_NODE"):$owlet_root/node_modules/.bin:$owlet_root/.venv/bin:$PATH"
# node-gyp must build native modules against the Node.js that runs them, not the machine's.
if [ -d "$(dirname "$OWLET_NODE")/../include/node" ]; then
  export npm_config_nodedir="$(cd "$(dirname "$OWLET_NODE")/.." && pwd)"
fi
