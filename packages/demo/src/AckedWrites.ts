/**
 * Reads every acknowledged write back from the database that acknowledged it, with a plain node-redis client (no
 * failover in the way), to count the writes the client acknowledged but the database does not hold.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { createClient } from "redis"
import type { WriteCheck } from "./Summary.js"
import type * as Timeline from "./Timeline.js"

const chunk = 500

/**
 * Checks `writes` against the databases (`directUrls`: id → url). A database that cannot be reached leaves its writes
 * unverified rather than lost.
 *
 * @since 0.1.0
 */
export const check = (
  writes: ReadonlyArray<Timeline.AckedWrite>,
  directUrls: ReadonlyMap<string, string>
): Effect.Effect<WriteCheck> =>
  Effect.gen(function* () {
    const lost = new Set<string>()
    const unverified = new Set<string>()
    const byDatabase = new Map<string, Array<Timeline.AckedWrite>>()
    for (const write of writes) {
      const list = byDatabase.get(write.database) ?? []
      list.push(write)
      byDatabase.set(write.database, list)
    }
    yield* Effect.forEach(
      [...byDatabase.entries()],
      ([database, list]) => {
        const url = directUrls.get(database)
        if (url === undefined) {
          for (const write of list) unverified.add(write.key)
          return Effect.void
        }
        return Effect.acquireUseRelease(
          Effect.sync(() => {
            const client = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } })
            client.on("error", () => {})
            return client
          }),
          (client) =>
            Effect.tryPromise(async () => {
              await client.connect()
              for (let i = 0; i < list.length; i += chunk) {
                const slice = list.slice(i, i + chunk)
                const values = await client.mGet(slice.map((w) => w.key))
                slice.forEach((write, j) => {
                  if (values[j] !== write.value) lost.add(write.key)
                })
              }
            }).pipe(
              Effect.catchAll(() =>
                Effect.sync(() => {
                  for (const write of list) if (!lost.has(write.key)) unverified.add(write.key)
                })
              )
            ),
          (client) =>
            Effect.sync(() => {
              try {
                client.destroy()
              } catch {
                // not connected
              }
            })
        )
      },
      { concurrency: "unbounded", discard: true }
    )
    return { lost, unverified }
  })
