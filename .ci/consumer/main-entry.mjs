// A 20-line application of the main entry, bundled to weigh it: it must pull in neither undici nor @effect/platform.
import { MultiDbClient } from "@effect-redis/multidb"
import { Effect } from "effect"

export const program = Effect.gen(function* () {
  const redis = yield* MultiDbClient.MultiDbClient
  yield* redis.commands.set("greeting", "hello")
  const value = yield* redis.commands.get("greeting")
  yield* Effect.log(value, yield* redis.activeDatabase)
})

export const RedisLive = MultiDbClient.layer({
  databases: [
    { id: "east", url: "redis://east.example.com:6379", weight: 1 },
    { id: "west", url: "redis://west.example.com:6379", weight: 0.5 }
  ]
})

export const main = () => Effect.runPromise(program.pipe(Effect.provide(RedisLive)))
