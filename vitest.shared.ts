/**
 * What every test project shares: the workspace packages resolve to their TypeScript sources, so tests (and the demo)
 * run from a fresh clone without building anything. Published packages resolve to their built JavaScript.
 */
import { fileURLToPath } from "node:url"
import type { AliasOptions } from "vite"

const source = (file: string) => fileURLToPath(new URL(`./packages/${file}`, import.meta.url))

export const alias: AliasOptions = [
  { find: /^@effect-redis\/multidb$/, replacement: source("multidb/src/index.ts") },
  { find: /^@effect-redis\/multidb\/(.+)$/, replacement: source("multidb/src/$1.ts") },
  { find: /^@effect-redis\/testkit$/, replacement: source("testkit/src/index.ts") }
]
