#!/usr/bin/env bash
# The whole suite: the TypeScript tests (node's test runner) and the Python client tests (pytest), then one
# summary line. Expects a build (`make test` does it).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
source scripts/env.sh

node --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination=.tools/node-tests.tap 'dist/test/**/*.test.js'
node_status=$?
pytest -q -p no:cacheprovider --junitxml=.tools/python-tests.xml test/python runner/tests
python_status=$?

# The TAP reporter's own totals count tests, not the suites around them. A test cancelled because a hook
# before it failed (a server the tests need did not start) did not pass: it counts as failed.
passed=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' .tools/node-tests.tap | tail -1)
failed=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' .tools/node-tests.tap | tail -1)
cancelled=$(sed -n 's/^# cancelled \([0-9]*\)$/\1/p' .tools/node-tests.tap | tail -1)
passed=${passed:-0}
failed=$((${failed:-1} + ${cancelled:-0}))
read -r py_passed py_failed < <(python3 - <<'PY'
import xml.etree.ElementTree as ET
try:
    root = ET.parse('.tools/python-tests.xml').getroot()
    suites = [root] if root.tag == 'testsuite' else list(root)
    tests = sum(int(s.get('tests', 0)) for s in suites)
    bad = sum(int(s.get('failures', 0)) + int(s.get('errors', 0)) for s in suites)
    skipped = sum(int(s.get('skipped', 0)) for s in suites)
    print(tests - bad - skipped, bad)
except Exception:
    print(0, 1)
PY
)
echo "node tests: exit $node_status; python tests: exit $python_status"
echo "$((passed + py_passed)) passed, $((failed + py_failed)) failed"
[ "$node_status" = 0 ] && [ "$python_status" = 0 ]
