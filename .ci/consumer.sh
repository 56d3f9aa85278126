#!/usr/bin/env bash
# Installs the packages as an application would: packs them (prepack builds), installs the tarballs with their peers
# from the registry into an application outside the workspace, typechecks and runs a plain-ESM and a TypeScript
# program against real redis-servers, checks the main entry's weight, and runs publint and arethetypeswrong.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/multidb-consumer-XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== packing into $work"
npm pack --silent -w @effect-redis/multidb -w @effect-redis/testkit --pack-destination "$work" >/dev/null
multidb=$(ls "$work"/effect-redis-multidb-*.tgz)
testkit=$(ls "$work"/effect-redis-testkit-*.tgz)
for tarball in "$multidb" "$testkit"; do
  files=$(tar -tzf "$tarball" | sed 's#^package/##' | sort)
  echo "-- $(basename "$tarball"): $(echo "$files" | wc -l) files, $(du -k "$tarball" | cut -f1) KiB;" \
    "$(echo "$files" | grep -c '\.js$') .js, $(echo "$files" | grep -c '\.d\.ts$') .d.ts," \
    "$(echo "$files" | grep -c '\.map$') .map, $(echo "$files" | grep -c '^src/.*\.ts$') sources (for the maps);" \
    "$(echo "$files" | grep -vE '^(build/|src/)' | tr '\n' ' ')"
  # here-strings, not `echo | grep -q`: with pipefail, grep -q quitting at its first match can fail the pipeline with
  # echo's SIGPIPE
  if grep -qE '^(test|\.ci|node_modules)/|tsbuildinfo$' <<<"$files"; then
    echo "$(basename "$tarball") holds test or tooling files" >&2
    exit 1
  fi
  for needed in README.md LICENSE package.json build/src/index.js build/src/index.d.ts build/src/index.js.map; do
    grep -qx "$needed" <<<"$files" || { echo "$(basename "$tarball") lacks $needed" >&2; exit 1; }
  done
done

echo "== publint and arethetypeswrong"
for tarball in "$multidb" "$testkit"; do
  npx --no-install publint run "$tarball" --strict
  # ESM-only packages (Node >= 20): node10 and CommonJS-importer resolutions do not apply
  npx --no-install attw "$tarball" --profile esm-only
done

echo "== installing the tarballs and their peers into an application outside the workspace"
app="$work/app"
mkdir -p "$app"
cp "$repo"/.ci/consumer/* "$app"/
cd "$app"
cat > package.json <<JSON
{ "name": "multidb-consumer", "private": true, "type": "module" }
JSON
peers=$(node -e 'const p=require(process.argv[1]).peerDependencies; console.log(Object.entries(p).map(([n,v])=>`${n}@${v.split("||").pop().trim()}`).join(" "))' "$repo/packages/multidb/package.json")
npm install --no-audit --no-fund --loglevel=error "$multidb" "$testkit" $peers \
  "typescript@$(node -p 'require(process.argv[1]).version' "$repo/node_modules/typescript/package.json")" \
  "@types/node@^20" "esbuild@$(node -p 'require(process.argv[1]).version' "$repo/node_modules/esbuild/package.json")"

echo "== plain ESM"
node app.mjs
echo "== TypeScript, moduleResolution Bundler"
npx --no-install tsc -p tsconfig.bundler.json
echo "== TypeScript, moduleResolution NodeNext (built and run)"
npx --no-install tsc -p tsconfig.nodenext.json
node out/app.js

echo "== the main entry's weight"
npx --no-install esbuild main-entry.mjs --bundle --minify --platform=node --format=esm --outfile=out/bundle.js \
  --metafile=out/meta.json --log-level=warning
node -e '
  const meta = require("./out/meta.json")
  const inputs = Object.keys(meta.inputs)
  const heavy = inputs.filter((f) => /node_modules\/(undici|@effect\/platform)\//.test(f))
  const size = require("fs").statSync("out/bundle.js").size
  const started = process.hrtime.bigint()
  import("@effect-redis/multidb").then(() => {
    const ms = Number(process.hrtime.bigint() - started) / 1e6
    console.log(`main entry: ${(size / 1024).toFixed(0)} KiB bundled and minified, ${ms.toFixed(0)} ms to import`)
    if (heavy.length > 0) {
      console.error(`the main entry pulls in ${heavy.length} files of undici / @effect/platform`)
      process.exit(1)
    }
  })
'
echo "consumer install: ok"
