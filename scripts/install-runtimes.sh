#!/usr/bin/env bash
# Installs every Spark runtime of runtimes/ (docs/engines.md) into .runtimes/, inside the checkout:
#   .runtimes/<runtime>/venv   a Python virtualenv from runtimes/<runtime>/requirements.lock (hashes required)
#   .runtimes/jars/            the jars of runtimes/<runtime>/jars.lock, from Maven Central through `mvn`,
#                              each checked against its sha256 before it is used
# Each runtime is skipped when its lock files have not changed since the last run (stamps in .tools/stamps).
# A session never downloads anything: everything it may put on its classpath is here before the server starts.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

stamp_dir=.tools/stamps
jar_dir=.runtimes/jars
# Maven's own cache of what it downloaded; the jars of jar_dir are hard links into it.
maven_repo=.runtimes/maven
mkdir -p "$stamp_dir" "$jar_dir"

# inputs DIR...: the digest of what a runtime is installed from (its locks and sources).
inputs() { find "$@" -type f | sort | xargs cat | sha256sum | cut -d' ' -f1; }

ensure_maven() {
  command -v mvn >/dev/null && return
  echo "owlet setup: installing Maven (Debian's maven package) to fetch the runtimes' jars"
  bash scripts/apt-install.sh maven
}

# fetch_jar COORDINATE SHA256: the jar in jar_dir, fetched when missing, refused when its digest differs.
fetch_jar() {
  local coordinate=$1 expected=$2 group artifact version file
  IFS=: read -r group artifact version <<<"$coordinate"
  file="$jar_dir/$artifact-$version.jar"
  if [ -f "$file" ] && [ "$(sha256sum "$file" | cut -d' ' -f1)" = "$expected" ]; then return; fi
  ensure_maven
  local cached="$maven_repo/${group//.//}/$artifact/$version/$artifact-$version.jar"
  if [ ! -f "$cached" ]; then
    mvn -B -q -Dmaven.repo.local="$root/$maven_repo" dependency:get -Dartifact="$coordinate" -Dtransitive=false >/dev/null
  fi
  local actual
  actual=$(sha256sum "$cached" | cut -d' ' -f1)
  if [ "$actual" != "$expected" ]; then
    echo "owlet setup: $coordinate has sha256 $actual, but jars.lock pins $expected; not using it" >&2
    rm -f "$cached"
    exit 1
  fi
  ln -f "$cached" "$file"
}

ensure_jdk() {
  command -v javac >/dev/null && return
  echo "owlet setup: installing a JDK (Debian's openjdk-17-jdk-headless) to build Owlet's classes for Spark"
  bash scripts/apt-install.sh openjdk-17-jdk-headless
}

# build_connect_token RUNTIME: compiles runtimes/RUNTIME/connect-token/ (a gRPC interceptor for a Connect server
# that checks no token) against the runtime's spark-connect jar, into .runtimes/jars/owlet-connect-token-V.jar.
build_connect_token() {
  local runtime=$1 source_dir="runtimes/$1/connect-token" build
  [ -d "$source_dir" ] || return 0
  ensure_jdk
  build=$(mktemp -d)
  javac --release 8 -nowarn -d "$build" -cp "$(ls "$jar_dir"/spark-connect_*.jar | tr '\n' ':')" \
    $(find "$source_dir" -name '*.java')
  jar cf "$jar_dir/owlet-connect-token-${runtime#spark-}.jar" -C "$build" .
  rm -rf "$build"
}

# build_commit_protocol RUNTIME: compiles runtimes/commit-protocol/ (the commit protocol that picks S3A's magic
# committer for S3 paths and Spark's default protocol for the others, docs/s3.md) with the runtime's own
# runtimes/RUNTIME/commit-protocol/ (its commitJob, whose Scala Seq type differs between Scala 2.12 and 2.13)
# against the jars of the runtime's PySpark, into .runtimes/jars/owlet-commit-protocol-V.jar.
build_commit_protocol() {
  local runtime=$1 build pyspark_jars
  pyspark_jars=$(ls -d ".runtimes/$runtime/venv/lib/"python*/site-packages/pyspark/jars)
  ensure_jdk
  build=$(mktemp -d)
  javac --release 8 -nowarn -d "$build" -cp "$pyspark_jars/*" \
    $(find runtimes/commit-protocol "runtimes/$runtime/commit-protocol" -name '*.java')
  jar cf "$jar_dir/owlet-commit-protocol-${runtime#spark-}.jar" -C "$build" .
  rm -rf "$build"
}

# build_driver_helpers RUNTIME: compiles runtimes/driver-helpers/ (Java the runner calls on its driver to save py4j
# round trips, such as a calculation's progress in one call) against the jars of the runtime's PySpark, into
# .runtimes/jars/owlet-driver-helpers-V.jar.
build_driver_helpers() {
  local runtime=$1 build pyspark_jars
  pyspark_jars=$(ls -d ".runtimes/$runtime/venv/lib/"python*/site-packages/pyspark/jars)
  ensure_jdk
  build=$(mktemp -d)
  javac --release 8 -nowarn -d "$build" -cp "$pyspark_jars/*" $(find runtimes/driver-helpers -name '*.java')
  jar cf "$jar_dir/owlet-driver-helpers-${runtime#spark-}.jar" -C "$build" .
  rm -rf "$build"
}

# Each runtime's folder is runtimes/spark-*; runtimes/commit-protocol and runtimes/driver-helpers hold sources all
# runtimes share.
for lock_dir in runtimes/spark-*/; do
  runtime=$(basename "$lock_dir")
  venv=".runtimes/$runtime/venv"
  digest=$(inputs "$lock_dir" runtimes/commit-protocol runtimes/driver-helpers)
  if [ -f "$stamp_dir/runtime-$runtime" ] && [ "$(cat "$stamp_dir/runtime-$runtime")" = "$digest" ] \
    && [ -x "$venv/bin/python" ]; then
    continue
  fi
  echo "owlet setup: installing the $runtime runtime in .runtimes/$runtime (a first install takes minutes)"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --require-hashes --no-deps -r "$lock_dir"requirements.lock
  while read -r coordinate sha256 _; do
    case "$coordinate" in '' | '#'*) continue ;; esac
    fetch_jar "$coordinate" "$sha256"
  done <"$lock_dir"jars.lock
  build_connect_token "$runtime"
  build_commit_protocol "$runtime"
  build_driver_helpers "$runtime"
  echo "$digest" >"$stamp_dir/runtime-$runtime"
done
