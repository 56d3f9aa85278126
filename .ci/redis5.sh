#!/usr/bin/env bash
# node-redis 5: in a temporary copy of the work tree, every `redis` range becomes the newest 5.x; then typecheck and run
# the testkit tests and the multidb integration tests (real servers) against it.
set -euo pipefail
cd "$(dirname "$0")/.."
copy=$(mktemp -d "${TMPDIR:-/tmp}/multidb-redis5-XXXXXX")
trap 'rm -rf "$copy"' EXIT
git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$copy"
cd "$copy"
for manifest in package.json packages/*/package.json; do
  node -e '
    const fs = require("fs"), file = process.argv[1], json = JSON.parse(fs.readFileSync(file, "utf8"))
    for (const field of ["dependencies", "devDependencies"]) if (json[field]?.redis) json[field].redis = "^5"
    fs.writeFileSync(file, JSON.stringify(json, null, 2) + "\n")
  ' "$manifest"
done
npm install --no-audit --no-fund --loglevel=error
echo "node-redis $(node -p 'require("redis/package.json").version') (@redis/client $(node -p 'require("@redis/client/package.json").version'))"
npx tsc -b
report=$(mktemp)
status=0
npx vitest run --project testkit --project multidb --reporter=dot --reporter=json --outputFile="$report" \
  packages/testkit/test $(ls packages/multidb/test/*.integration.test.ts) || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
  console.log(`node-redis 5 run: ${r.numPassedTests} tests passed and ${r.numFailedTests} failed (testkit, multidb integration)`)
' "$report"
exit "$status"
