/**
 * A real Redis Cluster for tests: masters only (3 by default), each a `RedisServer` on free ports with its own
 * `nodes.conf`, slots spread evenly, ready when every node reports `cluster_state:ok`.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, Layer, Schedule, type Scope } from "effect"
import * as internal from "./internal/redisServer.js"
import * as Resp from "./internal/resp.js"
import type * as RedisServer from "./RedisServer.js"
import { ClusterNotReady, type TestkitError } from "./TestkitError.js"

/**
 * Options of `make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Number of masters (default 3); there are no replicas. */
  readonly masters?: number | undefined
  /** `cluster-node-timeout` (default 2 seconds). */
  readonly nodeTimeout?: Duration.DurationInput | undefined
  /** `requirepass` of every node (clients also need it in `defaults` for discovered nodes). */
  readonly password?: string | undefined
  /** Extra command-line arguments for every node. */
  readonly args?: ReadonlyArray<string> | undefined
  /** Bound on waiting for `cluster_state:ok` at start (default 30 seconds). */
  readonly readyTimeout?: Duration.DurationInput | undefined
}

/**
 * What a node reports as `cluster_state`, or `"down"` when it is not running or does not answer.
 *
 * @since 0.1.0
 * @category models
 */
export type NodeState = "ok" | "fail" | "down"

/**
 * A running cluster: its nodes (each with the `RedisServer` controls) and root nodes for `createCluster`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** One handle per master; `restart` keeps the node's port and `nodes.conf`, so it rejoins the cluster. */
  readonly nodes: ReadonlyArray<RedisServer.Service>
  /** `[{ url }]` per node, for node-redis `createCluster({ rootNodes })`. */
  readonly rootNodes: ReadonlyArray<{ readonly url: string }>
  /** The `cluster_state` each node reports, in `nodes` order. */
  readonly states: Effect.Effect<ReadonlyArray<NodeState>>
  /** Waits until every running node reports `cluster_state:ok` and knows every node (default bound 30 seconds). */
  readonly awaitReady: (timeout?: Duration.DurationInput) => Effect.Effect<void, TestkitError>
}

/**
 * The service tag of a test Redis Cluster.
 *
 * @since 0.1.0
 * @category tags
 */
export class RedisCluster extends Context.Tag("@effect-redis/testkit/RedisCluster")<RedisCluster, Service>() {}

/**
 * Number of hash slots of a Redis Cluster.
 *
 * @since 0.1.0
 * @category utils
 */
export const slotCount = 16384

const clusterInfo = (node: internal.Server) =>
  Resp.command(node.endpoint, ["CLUSTER", "INFO"], "1 second").pipe(Effect.map((reply) => String(reply)))

const field = (info: string, name: string) => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1]

/**
 * Starts the nodes, assigns slots, makes them meet and waits for `cluster_state:ok`; the scope's end kills every
 * node and removes their dirs.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, TestkitError, Scope.Scope> =>
  Effect.gen(function* () {
    const masters = options.masters ?? 3
    const nodeTimeout = Duration.decode(options.nodeTimeout ?? "2 seconds")
    const servers = yield* Effect.all(
      Array.from({ length: masters }, (_, index) =>
        internal.make({
          name: `cluster${index}`,
          password: options.password,
          args: options.args,
          cluster: { nodeTimeout }
        })
      ),
      { concurrency: "unbounded" }
    )

    yield* Effect.forEach(
      servers,
      (server, index) => {
        const first = Math.floor((index * slotCount) / masters)
        const last = Math.floor(((index + 1) * slotCount) / masters) - 1
        return Effect.zipRight(
          Resp.command(server.endpoint, ["CLUSTER", "SET-CONFIG-EPOCH", String(index + 1)]),
          Resp.command(server.endpoint, ["CLUSTER", "ADDSLOTSRANGE", String(first), String(last)])
        )
      },
      { concurrency: "unbounded", discard: true }
    )
    const [seed] = servers
    yield* Effect.forEach(
      servers.slice(1),
      (server) =>
        Resp.command(seed!.endpoint, ["CLUSTER", "MEET", server.host, String(server.port), String(server.busPort)]),
      { discard: true }
    )

    const nodeState = (server: internal.Server) =>
      Effect.gen(function* () {
        if (!(yield* server.isRunning) || (yield* server.isStopped)) return { state: "down" as const, info: "" }
        const info = yield* clusterInfo(server)
        const state = field(info, "cluster_state") === "ok" ? ("ok" as const) : ("fail" as const)
        return { state, info }
      }).pipe(Effect.catchAll((error) => Effect.succeed({ state: "down" as const, info: error.message })))

    const awaitReady = (timeout: Duration.DurationInput = options.readyTimeout ?? "30 seconds") =>
      Effect.gen(function* () {
        let lastInfo = ""
        const check = Effect.gen(function* () {
          const reports = yield* Effect.forEach(servers, nodeState, { concurrency: "unbounded" })
          const live = reports.filter((report) => report.state !== "down")
          const bad = live.find(
            (report) => report.state !== "ok" || field(report.info, "cluster_known_nodes") !== String(masters)
          )
          lastInfo = bad?.info ?? ""
          return live.length > 0 && bad === undefined
        })
        yield* check.pipe(
          Effect.repeat({ schedule: Schedule.spaced("100 millis"), until: (ready) => ready }),
          Effect.timeoutFail({
            duration: timeout,
            onTimeout: () =>
              new ClusterNotReady({
                ports: servers.map((server) => server.port),
                timeoutMillis: Duration.toMillis(Duration.decode(timeout)),
                lastInfo
              })
          })
        )
      })

    yield* awaitReady()

    const service: Service = {
      nodes: servers.map(internal.toPublic),
      rootNodes: servers.map((server) => ({ url: server.url })),
      states: Effect.forEach(servers, (server) => Effect.map(nodeState(server), (report) => report.state), {
        concurrency: "unbounded"
      }),
      awaitReady
    }
    return service
  })

/**
 * A layer providing a `RedisCluster`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RedisCluster, TestkitError> =>
  Layer.scoped(RedisCluster, make(options))
