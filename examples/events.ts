/**
 * Listening to the client's events from before it starts: provide the `MultiDbEvents` bus under the client layer and
 * subscribe to it first, so even the initial health checks are seen. (`redis.events` is the same stream, from the
 * moment it is run.)
 *
 *   npx tsx --conditions=source examples/events.ts     # with redis on 6379 and 6380, or EAST_URL / WEST_URL
 */
import { MultiDbClient, MultiDbEvent, MultiDbEvents } from "@effect-redis/multidb"
import { Effect, Layer, PubSub, Queue } from "effect"

const describe = MultiDbEvent.$match({
  ActiveDatabaseChanged: (e) => `active database ${e.oldDatabase ?? "none"} → ${e.newDatabase} (${e.reason})`,
  CircuitStateChanged: (e) => `circuit ${e.database}: ${e.from} → ${e.to}`,
  HealthCheckCompleted: (e) => `health ${e.database}: ${e.healthy ? "healthy" : `unhealthy (${e.cause})`}`,
  CommandsFailed: (e) => `${e.commands.join(", ")} failed on ${e.database}: ${e.error}`,
  AllDatabasesUnavailable: (e) => `no database available (attempt ${e.attempt} of ${e.maxAttempts})`,
  DatabaseAdded: (e) => `database ${e.database} added`,
  DatabaseRemoved: (e) => `database ${e.database} removed`,
  DatabaseWeightChanged: (e) => `database ${e.database} weight ${e.from} → ${e.to}`
})

/** Subscribes to the bus when built (before the client starts) and logs every event until the layer is released. */
const EventLog = Layer.scopedDiscard(
  Effect.gen(function* () {
    const bus = yield* MultiDbEvents.MultiDbEvents
    const subscription = yield* PubSub.subscribe(bus)
    yield* Queue.take(subscription).pipe(
      // every health round reports each database; keep the failures and everything else
      Effect.flatMap((event) =>
        event._tag === "HealthCheckCompleted" && event.healthy ? Effect.void : Effect.log(describe(event))
      ),
      Effect.forever,
      Effect.forkScoped
    )
  })
)

const RedisLive = MultiDbClient.layer({
  databases: [
    { id: "east", url: process.env["EAST_URL"] ?? "redis://127.0.0.1:6379", weight: 1 },
    { id: "west", url: process.env["WEST_URL"] ?? "redis://127.0.0.1:6380", weight: 0.5 }
  ],
  healthCheckInterval: "1 second",
  initialHealthCheckPolicy: "one"
}).pipe(
  // the bus, with the listener already attached, is what the client publishes on
  Layer.provide(EventLog.pipe(Layer.provideMerge(MultiDbEvents.layer)))
)

const program = Effect.gen(function* () {
  const redis = yield* MultiDbClient.MultiDbClient
  yield* redis.commands.set("example:events", "1")
  // keep running a little: stop or start a server meanwhile to see the client react
  yield* Effect.sleep("10 seconds")
})

Effect.runPromise(program.pipe(Effect.provide(RedisLive))).catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
