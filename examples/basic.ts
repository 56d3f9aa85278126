/**
 * Basic usage: one logical Redis over two weighted databases, as a layer.
 *
 * Run it against two local servers (`redis-server --port 6379` and `redis-server --port 6380`), or point
 * `EAST_URL` / `WEST_URL` elsewhere:
 *
 *   npx tsx --conditions=source examples/basic.ts
 */
import { MultiDbClient } from "@effect-redis/multidb"
import { Effect, Option } from "effect"

const program = Effect.gen(function* () {
  const redis = yield* MultiDbClient.MultiDbClient

  // the usual commands, with node-redis' argument and reply types
  yield* redis.commands.set("greeting", "hello")
  const value = yield* redis.commands.get("greeting") // string | null

  // a pipeline: sent together to the active database, replies typed
  const [, visits] = yield* redis.pipeline((p) => p.set("visits", "0").incr("visits"))

  const active = yield* redis.activeDatabase
  yield* Effect.log(
    `greeting=${value} visits=${visits} served by ${Option.match(active, { onNone: () => "none", onSome: (d) => d.id })}`
  )
})

const RedisLive = MultiDbClient.layer({
  databases: [
    { id: "east", url: process.env["EAST_URL"] ?? "redis://127.0.0.1:6379", weight: 1 },
    { id: "west", url: process.env["WEST_URL"] ?? "redis://127.0.0.1:6380", weight: 0.5 }
  ],
  healthCheckInterval: "5 seconds",
  // start as long as one database answers
  initialHealthCheckPolicy: "one"
})

Effect.runPromise(program.pipe(Effect.provide(RedisLive))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
