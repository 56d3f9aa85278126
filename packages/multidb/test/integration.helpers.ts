import { Duration, Effect, Option, Schedule, Stream } from "effect"
import { createClient } from "redis"
import type * as MultiDbClient from "../src/MultiDbClient.js"
import type { MultiDbEvent } from "../src/MultiDbEvent.js"

/** Polls `condition` every 20 ms until it holds, failing after `within`. */
export const waitFor = <E, R>(
  description: string,
  condition: Effect.Effect<boolean, E, R>,
  within: Duration.DurationInput = "15 seconds"
) =>
  condition.pipe(
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.fail("not yet" as const))),
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeoutFail({
      duration: within,
      onTimeout: () =>
        new Error(`timed out after ${Duration.format(Duration.decode(within))} waiting for ${description}`)
    })
  )

/** The id of the active database, or undefined. */
export const activeId = (client: MultiDbClient.MultiDbClient) =>
  Effect.map(client.activeDatabase, Option.match({ onNone: () => undefined, onSome: (d) => d.id }))

/** Collects every event from now on into an array (live). */
export const collectEvents = (client: MultiDbClient.MultiDbClient) =>
  Effect.gen(function* () {
    const events: Array<{ readonly at: number; readonly event: MultiDbEvent }> = []
    yield* client.events.pipe(
      Stream.runForEach((event) => Effect.sync(() => events.push({ at: performance.now(), event }))),
      Effect.forkScoped
    )
    yield* Effect.sleep("10 millis")
    return events
  })

/** A plain node-redis client to a server (outside the client under test), closed with the scope. */
export const plainClient = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const client = createClient({ url })
      client.on("error", () => {})
      await client.connect()
      return client
    }),
    (client) =>
      Effect.sync(() => {
        try {
          client.destroy()
        } catch {
          // node-redis 5 throws on a client that is closed already
        }
      })
  )
