/**
 * The demo's traffic: a few workers doing reads and writes through the client, a publisher and a subscriber on the
 * `demo` channel. Everything is recorded: which database served each operation, every failure by error tag, and
 * every acknowledged write.
 *
 * @since 0.1.0
 */
import type { MultiDbClient } from "@effect-redis/multidb"
import { Duration, Effect, Option, Schedule, Stream } from "effect"
import type * as Recorder from "./Recorder.js"

/**
 * Shape of the workload.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Workers running operations one after the other. */
  readonly concurrency: number
  /** Pause of a worker between two operations (keeps the demo from saturating small machines). */
  readonly pause: Duration.DurationInput
  /** Pause of a worker after a failed operation, as an application backing off would. */
  readonly errorPause: Duration.DurationInput
  /** Share of writes among operations. */
  readonly writeShare: number
  /** Pub/sub channel. */
  readonly channel: string
  /** Time between two PUBLISH. */
  readonly publishEvery: Duration.DurationInput
  /** Prefix of the keys written; unique per run. */
  readonly keyPrefix: string
  /** Expiry of the keys written, so a run against your own databases cleans up after itself. */
  readonly keyTtlSeconds: number
}

/**
 * Defaults: 8 workers, 15 ms between operations (about 450 ops/s in all), 40% writes, a publish every 100 ms.
 *
 * @since 0.1.0
 */
export const defaults = (keyPrefix: string): Options => ({
  concurrency: 8,
  pause: "15 millis",
  errorPause: "100 millis",
  writeShare: 0.4,
  channel: "demo",
  publishEvery: "100 millis",
  keyPrefix,
  keyTtlSeconds: 600
})

/** `host:port` of a redis URL, to match the client's url with a database when the strings differ. */
const endpoint = (url: string) => {
  try {
    const parsed = new URL(url)
    return `${parsed.hostname}:${parsed.port === "" ? "6379" : parsed.port}`
  } catch {
    return url
  }
}

/**
 * Runs the reads, the writes and the publisher until interrupted (run `subscriber` alongside).
 *
 * Which database served an operation: `execute` hands the call the node-redis client of the database it runs on, and
 * that client's `options.url` is the url the database was configured with. So the database that acknowledged a write
 * is known exactly, from the very connection that carried the reply. (Reading `activeDatabase` right after the
 * acknowledgement would be nearly right, but wrong for a reply that arrives just as the client switches databases.)
 *
 * @since 0.1.0
 */
export const traffic = (
  client: MultiDbClient.MultiDbClient,
  databases: ReadonlyArray<{ readonly id: string; readonly url: string }>,
  recorder: Recorder.Recorder,
  options: Options
): Effect.Effect<never> =>
  Effect.suspend(() => {
    const byUrl = new Map<string, string>()
    for (const database of databases) {
      byUrl.set(database.url, database.id)
      byUrl.set(endpoint(database.url), database.id)
    }
    const activeId = client.activeDatabase.pipe(
      Effect.map(Option.match({ onNone: () => "?", onSome: (d) => d.id })),
      Effect.orElseSucceed(() => "?")
    )
    const servedBy = (url: string | undefined): Effect.Effect<string> => {
      const id = url === undefined ? undefined : (byUrl.get(url) ?? byUrl.get(endpoint(url)))
      return id === undefined ? activeId : Effect.succeed(id)
    }
    let written = 0
    const key = (n: number) => `${options.keyPrefix}:${n}`

    const write = Effect.suspend(() => {
      const n = written++
      const value = String(n)
      return client
        .execute(
          async (redis) => {
            await redis.set(key(n), value, { expiration: { type: "EX", value: options.keyTtlSeconds } })
            return redis.options?.url
          },
          { command: "SET" }
        )
        .pipe(
          Effect.flatMap(servedBy),
          Effect.tap((database) =>
            Effect.sync(() => {
              recorder.writeAcked(key(n), value, database)
              recorder.opServed(database, "write")
            })
          )
        )
    })

    const read = Effect.suspend(() => {
      const target = key(Math.floor(Math.random() * Math.max(1, written)))
      return client
        .execute(
          async (redis) => {
            await redis.get(target)
            return redis.options?.url
          },
          { command: "GET", readOnly: true }
        )
        .pipe(
          Effect.flatMap(servedBy),
          Effect.tap((database) => Effect.sync(() => recorder.opServed(database, "read")))
        )
    })

    const operation = Effect.suspend(() => (Math.random() < options.writeShare ? write : read))
    const worker = operation.pipe(
      Effect.zipRight(Effect.sleep(options.pause)),
      Effect.catchAll((error) =>
        Effect.sync(() => recorder.opFailed(error._tag)).pipe(Effect.zipRight(Effect.sleep(options.errorPause)))
      ),
      Effect.forever
    )

    let published = 0
    const publisher = Effect.suspend(() => client.commands.publish(options.channel, String(published++))).pipe(
      Effect.tap(() => Effect.sync(() => recorder.published())),
      Effect.ignore,
      Effect.repeat(Schedule.spaced(options.publishEvery)),
      Effect.zipRight(Effect.never)
    )

    return Effect.all(
      [
        ...Array.from({ length: options.concurrency }, (_, i) =>
          // staggered starts, so the workers do not move in lockstep
          Effect.delay(worker, Duration.millis((i * Duration.toMillis(Duration.decode(options.pause))) / 8))
        ),
        // give the subscriber (started first) a moment to subscribe
        Effect.delay(publisher, Duration.millis(300))
      ],
      { concurrency: "unbounded", discard: true }
    ).pipe(Effect.zipRight(Effect.never))
  })

/**
 * Counts the messages of the workload's channel, by the database they came from, until interrupted. The
 * subscription follows the active database by itself; should its stream end anyway, it subscribes again.
 *
 * @since 0.1.0
 */
export const subscriber = (
  client: MultiDbClient.MultiDbClient,
  recorder: Recorder.Recorder,
  options: Pick<Options, "channel">
): Effect.Effect<never> =>
  client.subscribe([options.channel]).pipe(
    Stream.runForEach((message) => Effect.sync(() => recorder.received(message.database))),
    Effect.ignore,
    Effect.zipRight(Effect.sleep(Duration.millis(500))),
    Effect.forever
  )
