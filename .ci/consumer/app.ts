// The TypeScript application: typechecked with moduleResolution NodeNext and Bundler, then run (NodeNext build).
import { MultiDbClient, type MultiDbError, RedisConnection } from "@effect-redis/multidb"
import type * as LagAwareHealthCheck from "@effect-redis/multidb/LagAwareHealthCheck"
import { RedisServer } from "@effect-redis/testkit"
import { Effect } from "effect"

const program = Effect.scoped(
  Effect.gen(function* () {
    const server = yield* RedisServer.make()
    const redis = yield* MultiDbClient.fromInput({ databases: [{ id: "only", url: server.url }] })
    const written: Effect.Effect<string | null, MultiDbError.MultiDbError> = redis.commands.set(
      "typed",
      "hello from ts"
    )
    yield* written
    return yield* redis.commands.get("typed")
  })
)

// the subpath export resolves and is typed
const options: LagAwareHealthCheck.Options = { lagAwareTolerance: "100 millis" }
void options

const value = await Effect.runPromise(program.pipe(Effect.provide(RedisConnection.layer)))
if (value !== "hello from ts") throw new Error(`unexpected reply ${String(value)}`)
console.log(`TypeScript program: SET/GET through MultiDbClient ok (${value})`)
