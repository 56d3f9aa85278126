import { describe, expect, it } from "@effect/vitest"
import { RedisCluster, RedisServer } from "@effect-redis/testkit"
import { Effect, Fiber, Ref, Schedule } from "effect"
import * as HealthCheck from "../src/HealthCheck.js"
import * as ClusterHealth from "../src/internal/clusterHealth.js"
import * as MultiDbClient from "../src/MultiDbClient.js"
import type * as MultiDbConfig from "../src/MultiDbConfig.js"
import type { MultiDbEvent } from "../src/MultiDbEvent.js"
import { layer as nodeRedisLayer } from "../src/RedisConnection.js"
import { activeId, collectEvents, plainClient, waitFor } from "./integration.helpers.js"

type Timed = { readonly at: number; readonly event: MultiDbEvent }

const keys = Array.from({ length: 30 }, (_, i) => `key:${i}`)

/** A command sent to one node directly (outside the client under test). */
const nodeCommand = (url: string, args: Array<string>) =>
  Effect.scoped(Effect.flatMap(plainClient(url), (client) => Effect.promise(() => client.sendCommand(args))))

/**
 * `fibers` loops of commands against the client until `stop` is set (and at most `maxPerFiber` each); each outcome
 * is recorded with its time. Errors are values: the loop never dies.
 */
const workload = (
  redis: MultiDbClient.MultiDbClient,
  command: (i: number) => Effect.Effect<unknown, unknown>,
  options: { readonly fibers: number; readonly maxPerFiber: number }
) =>
  Effect.gen(function* () {
    const stop = yield* Ref.make(false)
    const outcomes: Array<{ readonly at: number; readonly error: string | undefined }> = []
    const loop = (offset: number) =>
      Effect.gen(function* () {
        for (let i = 0; i < options.maxPerFiber && !(yield* Ref.get(stop)); i++) {
          const result = yield* Effect.either(command(offset + i))
          outcomes.push({
            at: performance.now(),
            error: result._tag === "Left" ? String((result.left as Error).message ?? result.left) : undefined
          })
          yield* Effect.sleep("2 millis")
        }
      })
    const fiber = yield* Effect.forkScoped(
      Effect.forEach(
        Array.from({ length: options.fibers }, (_, i) => i * 1000),
        loop,
        { concurrency: "unbounded", discard: true }
      )
    )
    void redis
    return { outcomes, stop: Effect.zipRight(Ref.set(stop, true), Fiber.join(fiber)) }
  })

/** A cluster (weight 1, grace 1 s) and a standalone standby (0.5), checked and fallen back to every 200 ms. */
const clusterAndStandby = (
  cluster: RedisCluster.Service,
  standby: RedisServer.Service,
  extra: Partial<MultiDbConfig.Input> = {}
) =>
  MultiDbClient.fromInput({
    databases: [
      { id: "cluster", cluster: { rootNodes: cluster.rootNodes }, weight: 1, gracePeriod: "1 second" },
      { id: "standby", url: standby.url, weight: 0.5 }
    ],
    healthCheckInterval: "200 millis",
    healthCheckProbes: 1,
    healthCheckProbesDelay: "0 millis",
    autoFallbackInterval: "200 millis",
    commandTimeout: "500 millis",
    ...extra
  }).pipe(Effect.provide(nodeRedisLayer))

const failuresOf = (events: ReadonlyArray<Timed>, database: string) =>
  events.flatMap(({ at, event }) =>
    event._tag === "CommandsFailed" && event.database === database ? [{ at, error: event.error }] : []
  )

describe("Redis Cluster readiness", () => {
  it("CLUSTER INFO fields decide readiness: state ok and all slots assigned and served", () => {
    const info = (state: string, assigned: number, ok: number) =>
      `cluster_state:${state}\r\ncluster_slots_assigned:${assigned}\r\ncluster_slots_ok:${ok}\r\ncluster_known_nodes:3\r\n`
    expect(ClusterHealth.problem(ClusterHealth.parse(info("ok", 16384, 16384)))).toBe(undefined)
    expect(ClusterHealth.problem(ClusterHealth.parse(info("fail", 16384, 16384)))).toBe("cluster_state:fail")
    expect(ClusterHealth.problem(ClusterHealth.parse(info("ok", 10923, 10923)))).toBe("cluster_slots_assigned:10923")
    expect(ClusterHealth.problem(ClusterHealth.parse(info("ok", 16384, 10923)))).toBe("cluster_slots_ok:10923")
    expect(ClusterHealth.problem(ClusterHealth.parse("garbage"))).toBe("cluster_state:(missing)")
  })

  it.scopedLive(
    "after a master restarts, traffic returns to the cluster only once it reports cluster_state:ok, and no command gets CLUSTERDOWN after",
    () =>
      Effect.gen(function* () {
        const cluster = yield* RedisCluster.make()
        const standby = yield* RedisServer.make()
        const redis = yield* clusterAndStandby(cluster, standby)
        const events = yield* collectEvents(redis)
        expect(yield* activeId(redis)).toBe("cluster")
        yield* Effect.forEach(keys, (key) => redis.commands.set(key, "v"), { discard: true })
        const load = yield* workload(
          redis,
          (i) => {
            const key = keys[i % keys.length]!
            return i % 2 === 0 ? redis.commands.get(key) : redis.commands.set(key, String(i))
          },
          { fibers: 4, maxPerFiber: 20_000 }
        )

        yield* cluster.nodes[1]!.kill
        yield* waitFor(
          "failover to the standalone database",
          Effect.map(activeId(redis), (id) => id === "standby")
        )
        // the other masters mark the dead one failed: the cluster is down
        yield* waitFor(
          "the other masters report cluster_state:fail",
          Effect.map(cluster.states, (states) => states[0] === "fail" && states[2] === "fail"),
          "20 seconds"
        )

        yield* cluster.nodes[1]!.restart
        const restarted = performance.now()
        let readyAt: number | undefined
        const watcher = yield* Effect.forkScoped(
          cluster.states.pipe(
            Effect.repeat({
              schedule: Schedule.spaced("20 millis"),
              until: (states) => states.every((s) => s === "ok")
            }),
            Effect.tap(() =>
              Effect.sync(() => {
                readyAt = performance.now()
              })
            ),
            Effect.timeout("30 seconds")
          )
        )
        yield* waitFor(
          "fail-back to the cluster",
          Effect.map(activeId(redis), (id) => id === "cluster"),
          "30 seconds"
        )
        const back = events.find(
          (e) => e.event._tag === "ActiveDatabaseChanged" && e.event.newDatabase === "cluster" && e.at > restarted
        )!
        yield* Fiber.join(watcher)
        // keep the load on the cluster for a while after the fail-back
        yield* Effect.sleep("1500 millis")
        yield* load.stop

        const toReady = readyAt! - restarted
        const toFailBack = back.at - restarted
        console.log(
          `cluster readiness: restart → cluster_state:ok on every master ${toReady.toFixed(0)} ms; ` +
            `restart → fail-back ${toFailBack.toFixed(0)} ms`
        )
        // the fail-back follows readiness (20 ms is the watcher's polling period)
        expect(toFailBack).toBeGreaterThanOrEqual(toReady - 20)
        const clusterDown = failuresOf(events, "cluster").filter((f) => f.at >= back.at && /CLUSTERDOWN/.test(f.error))
        expect(clusterDown).toEqual([])
        const after = load.outcomes.filter((o) => o.at > back.at + 100)
        expect(after.length).toBeGreaterThan(100)
        expect(after.filter((o) => /CLUSTERDOWN/.test(o.error ?? ""))).toEqual([])
        const unready = events.filter(
          (e) =>
            e.at > restarted &&
            e.event._tag === "HealthCheckCompleted" &&
            e.event.database === "cluster" &&
            !e.event.healthy &&
            /not ready to serve: .*cluster_state:fail/.test(e.event.cause ?? "")
        )
        expect(unready.length).toBeGreaterThan(0)
      }),
    120_000
  )

  /** A check that always passes: the circuit can then only be opened by the failure detector. */
  const alwaysHealthy = HealthCheck.make({ name: "always", probe: () => Effect.succeed(true) })

  const tripSetup = Effect.gen(function* () {
    const cluster = yield* RedisCluster.make()
    const standby = yield* RedisServer.make()
    const redis = yield* MultiDbClient.fromInput({
      databases: [
        { id: "cluster", cluster: { rootNodes: cluster.rootNodes }, weight: 1, gracePeriod: "60 seconds" },
        { id: "standby", url: standby.url, weight: 0.5 }
      ],
      healthChecks: [alwaysHealthy],
      healthCheckInterval: "500 millis",
      minNumFailures: 50,
      failureRateThreshold: 0.1,
      failuresDetectionWindow: "2 seconds",
      commandTimeout: "500 millis"
    }).pipe(Effect.provide(nodeRedisLayer))
    const events = yield* collectEvents(redis)
    expect(yield* activeId(redis)).toBe("cluster")
    return { cluster, redis, events }
  })

  /** The circuit opened on at least 50 failures since the fault, each of them the expected reply. */
  const expectTripped = (events: ReadonlyArray<Timed>, reply: RegExp, since: number) => {
    const opened = events.find(
      (e) => e.event._tag === "CircuitStateChanged" && e.event.database === "cluster" && e.event.to === "open"
    )
    expect(opened).toBeDefined()
    const before = failuresOf(events, "cluster").filter((f) => f.at >= since && f.at <= opened!.at)
    expect(before.length).toBeGreaterThanOrEqual(50)
    expect(before.filter((f) => !reply.test(f.error)).map((f) => f.error)).toEqual([])
    const switched = events.find((e) => e.event._tag === "ActiveDatabaseChanged" && e.event.newDatabase === "standby")
    expect(switched?.event).toMatchObject({ oldDatabase: "cluster", reason: "automatic" })
  }

  it.scopedLive(
    "CLUSTERDOWN replies count as failures and trip the circuit under load",
    () =>
      Effect.gen(function* () {
        const { cluster, redis, events } = yield* tripSetup
        yield* Effect.forEach(keys, (key) => redis.commands.set(key, "v"), { discard: true })
        const load = yield* workload(redis, (i) => redis.commands.get(keys[i % keys.length]!), {
          fibers: 8,
          maxPerFiber: 20_000
        })
        // node 0 gives up its slots: it reports cluster_state:fail and answers CLUSTERDOWN, though it answers PING
        const first = cluster.rootNodes[0]!.url
        const since = performance.now()
        yield* nodeCommand(first, ["CLUSTER", "DELSLOTSRANGE", "0", String(Math.floor(16384 / 3) - 1)])
        yield* waitFor(
          "failover to the standalone database",
          Effect.map(activeId(redis), (id) => id === "standby"),
          "20 seconds"
        )
        yield* load.stop
        expectTripped(events, /^CLUSTERDOWN/, since)
        const unhealthy = events.filter(
          (e) => e.event._tag === "HealthCheckCompleted" && e.event.database === "cluster" && !e.event.healthy
        )
        expect(unhealthy.map((e) => e.event)).toEqual([])
      }),
    60_000
  )

  it.scopedLive(
    "TRYAGAIN replies count as failures and trip the circuit under load",
    () =>
      Effect.gen(function* () {
        const { cluster, redis, events } = yield* tripSetup
        yield* redis.commands.set("{t}present", "v")
        const slot = Number(yield* nodeCommand(cluster.rootNodes[0]!.url, ["CLUSTER", "KEYSLOT", "{t}"]))
        const owner = Math.floor((slot * 3) / 16384)
        const target = (owner + 1) % 3
        const targetId = String(yield* nodeCommand(cluster.rootNodes[target]!.url, ["CLUSTER", "MYID"]))
        // the slot is being migrated: a multi-key read that finds only some of its keys gets TRYAGAIN
        const since = performance.now()
        yield* nodeCommand(cluster.rootNodes[owner]!.url, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetId])
        const load = yield* workload(redis, () => redis.sendCommand(["MGET", "{t}present", "{t}missing"]), {
          fibers: 8,
          maxPerFiber: 20_000
        })
        yield* waitFor(
          "failover to the standalone database",
          Effect.map(activeId(redis), (id) => id === "standby"),
          "20 seconds"
        )
        yield* load.stop
        expectTripped(events, /^TRYAGAIN/, since)
      }),
    60_000
  )

  it("a slot map's holes are named: count and ranges", () => {
    const slots = new Array<unknown>(ClusterHealth.slotCount).fill({})
    expect(ClusterHealth.unmappedSlots(slots)).toBe(undefined)
    expect(ClusterHealth.unmappedSlots(undefined)).toMatch(/^16384 of 16384 slots/)
    for (let slot = 5461; slot <= 10922; slot++) slots[slot] = undefined
    slots[16383] = undefined
    expect(ClusterHealth.unmappedSlots(slots)).toBe("5463 of 16384 slots: 5461-10922, 16383")
    expect(ClusterHealth.unmappedSlots(new Array(ClusterHealth.slotCount))).toBe("16384 of 16384 slots: 0-16383")
  })

  it.scopedLive(
    "a client that discovered the cluster while a master's slots were unassigned: the check replaces it, traffic " +
      "returns only once its map is whole, and no command fails as a defect",
    () =>
      Effect.gen(function* () {
        const cluster = yield* RedisCluster.make()
        const standby = yield* RedisServer.make()
        const [first, last] = [String(Math.floor(16384 / 3)), String(Math.floor((2 * 16384) / 3) - 1)]
        // the second master's slots are unassigned everywhere: the cluster is down, and a client that discovers it
        // now maps no node for them. The owner lets go first: until it has, its heartbeats would give the slots
        // back to a node that already unassigned them.
        yield* Effect.forEach(
          [1, 0, 2],
          (node) => nodeCommand(cluster.rootNodes[node]!.url, ["CLUSTER", "DELSLOTSRANGE", first, last]),
          { discard: true }
        )
        yield* waitFor(
          "cluster_state:fail everywhere",
          Effect.map(cluster.states, (states) => states.every((s) => s === "fail"))
        )
        const redis = yield* clusterAndStandby(cluster, standby, { initialHealthCheckPolicy: "one" })
        const events = yield* collectEvents(redis)
        expect(yield* activeId(redis)).toBe("standby")

        const repaired = performance.now()
        yield* nodeCommand(cluster.rootNodes[1]!.url, ["CLUSTER", "ADDSLOTSRANGE", first, last])
        yield* cluster.awaitReady("20 seconds")
        yield* waitFor(
          "fail-back to the cluster",
          Effect.map(activeId(redis), (id) => id === "cluster"),
          "30 seconds"
        )
        // every key, whichever master owns it, is served by the cluster: no TypeError, no defect
        const keyed = Array.from({ length: 60 }, (_, i) => `hole:${i}`)
        const outcomes = yield* Effect.forEach(keyed, (key) =>
          Effect.exit(Effect.zipRight(redis.commands.set(key, "v"), redis.commands.get(key)))
        )
        expect(outcomes.filter((exit) => exit._tag === "Failure").map(String)).toEqual([])
        const ownedBySecond = yield* Effect.forEach(keyed, (key) =>
          nodeCommand(cluster.rootNodes[0]!.url, ["CLUSTER", "KEYSLOT", key])
        )
        expect(
          ownedBySecond.filter((slot) => Number(slot) >= Number(first) && Number(slot) <= Number(last)).length
        ).toBeGreaterThan(0)
        // the check saw the hole after the cluster itself was ready again, and said so
        const holes = events.filter(
          (e) =>
            e.at > repaired &&
            e.event._tag === "HealthCheckCompleted" &&
            e.event.database === "cluster" &&
            !e.event.healthy &&
            /map of the cluster has no node for \d+ of 16384 slots/.test(e.event.cause ?? "")
        )
        expect(holes.length).toBeGreaterThan(0)
      }),
    90_000
  )
})
