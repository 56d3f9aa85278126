// A plain-ESM application using the packed packages as a registry would deliver them: two real redis-servers
// (started by the testkit), a MultiDbClient over them, SET/GET through it, and a failover when the first is killed.
import assert from "node:assert/strict"
import { MultiDbClient, RedisConnection } from "@effect-redis/multidb"
import { RedisServer } from "@effect-redis/testkit"
import { Effect, Option, Schedule } from "effect"

const program = Effect.gen(function* () {
  const east = yield* RedisServer.make()
  const west = yield* RedisServer.make()
  const redis = yield* MultiDbClient.fromInput({
    databases: [
      { id: "east", url: east.url, weight: 1 },
      { id: "west", url: west.url, weight: 0.5 }
    ],
    healthCheckInterval: "200 millis",
    healthCheckProbes: 1
  })
  yield* redis.commands.set("greeting", "hello from js")
  assert.equal(yield* redis.commands.get("greeting"), "hello from js")
  yield* east.kill
  // the caller retries until the write lands on the next database
  yield* redis.commands
    .set("after", "failover")
    .pipe(Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo("10 seconds"))))
  const active = yield* redis.activeDatabase
  assert.equal(Option.getOrThrow(active).id, "west")
  assert.equal(yield* redis.commands.get("after"), "failover")
  return "ok"
})

const result = await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(RedisConnection.layer)))
console.log(`plain ESM program: SET/GET through MultiDbClient ${result}`)
