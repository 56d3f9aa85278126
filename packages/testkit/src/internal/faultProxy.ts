import * as net from "node:net"
import { Clock, Data, Duration, Effect, FiberSet, Queue, Random, Runtime, Schedule, type Scope } from "effect"
import { PortUnavailable } from "../TestkitError.js"

/** How the proxy treats traffic. */
export type Mode = Data.TaggedEnum<{
  Pass: {}
  Refuse: {}
  Blackhole: {}
  Latency: { readonly fixed: Duration.Duration; readonly jitter: Duration.Duration }
}>

export const Mode = Data.taggedEnum<Mode>()

export interface Target {
  readonly host: string
  readonly port: number
  readonly url?: string | undefined
}

export interface ProxyOptions {
  readonly target: Target
  readonly port?: number | undefined
  readonly mode?: Mode | undefined
}

export interface Proxy {
  readonly host: string
  readonly port: number
  readonly url: string
  readonly target: Target
  readonly mode: Effect.Effect<Mode>
  readonly setMode: (mode: Mode) => Effect.Effect<void, PortUnavailable>
  readonly resetConnections: Effect.Effect<void>
  readonly connectionCount: Effect.Effect<number>
}

type Item =
  | { readonly _tag: "Data"; readonly chunk: Buffer; readonly due: number }
  | { readonly _tag: "End"; readonly due: number }
  | { readonly _tag: "Reset"; readonly due: number }

interface Direction {
  readonly queue: Queue.Queue<Item>
  lastDue: number
}

interface Pair {
  readonly client: net.Socket
  readonly upstream: net.Socket
  readonly toUpstream: Direction
  readonly toClient: Direction
  clientClosed: boolean
  upstreamClosed: boolean
  released: boolean
}

const host = "127.0.0.1"

const proxyUrl = (target: Target, port: number) => {
  if (target.url === undefined) return `redis://${host}:${port}`
  const url = new URL(target.url)
  url.hostname = host
  url.port = String(port)
  return url.toString()
}

const reset = (socket: net.Socket) => {
  if (!socket.destroyed) socket.resetAndDestroy()
}

export const make = (options: ProxyOptions): Effect.Effect<Proxy, PortUnavailable, Scope.Scope> =>
  Effect.gen(function* () {
    const runtime = yield* Effect.runtime<never>()
    const runSync = Runtime.runSync(runtime)
    const runFork = yield* FiberSet.makeRuntime<never>()
    const lock = yield* Effect.makeSemaphore(1)
    const gate = yield* Effect.makeLatch(true)
    const connections = new Set<Pair>()
    let mode: Mode = Mode.Pass()
    let listener: net.Server | undefined

    const enqueue = (pair: Pair, direction: Direction, make: (due: number) => Item): void => {
      if (pair.released) return
      runSync(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          let delay = 0
          if (mode._tag === "Latency") {
            const jitter = Duration.toMillis(mode.jitter)
            delay = Duration.toMillis(mode.fixed) + (jitter > 0 ? yield* Random.nextRange(0, jitter) : 0)
          }
          const due = Math.max(direction.lastDue, now + delay)
          direction.lastDue = due
          yield* Queue.offer(direction.queue, make(due))
        })
      )
    }

    const deliver = (item: Item, socket: net.Socket) => {
      if (socket.destroyed) return
      switch (item._tag) {
        case "Data":
          socket.write(item.chunk)
          return
        case "End":
          socket.end()
          return
        case "Reset":
          reset(socket)
          return
      }
    }

    const pump = (direction: Direction, socket: net.Socket) =>
      Effect.gen(function* () {
        const item = yield* Queue.take(direction.queue)
        const now = yield* Clock.currentTimeMillis
        if (item.due > now) yield* Effect.sleep(Duration.millis(item.due - now))
        yield* gate.await
        deliver(item, socket)
      }).pipe(Effect.forever)

    const release = (pair: Pair) => {
      if (pair.released) return
      pair.released = true
      connections.delete(pair)
      runSync(Effect.zipRight(Queue.shutdown(pair.toUpstream.queue), Queue.shutdown(pair.toClient.queue)))
    }

    const wire = (pair: Pair, from: net.Socket, direction: Direction, side: "client" | "upstream") => {
      let ended = false
      from.on("data", (chunk: Buffer) => enqueue(pair, direction, (due) => ({ _tag: "Data", chunk, due })))
      from.on("end", () => {
        ended = true
        enqueue(pair, direction, (due) => ({ _tag: "End", due }))
      })
      from.on("error", () => {})
      from.on("close", (hadError) => {
        if (hadError || !ended) enqueue(pair, direction, (due) => ({ _tag: "Reset", due }))
        if (side === "client") pair.clientClosed = true
        else pair.upstreamClosed = true
        if (pair.clientClosed && pair.upstreamClosed) release(pair)
      })
    }

    const onConnection = (client: net.Socket) => {
      const upstream = net.connect({ host: options.target.host, port: options.target.port })
      client.setNoDelay(true)
      upstream.setNoDelay(true)
      const pair: Pair = {
        client,
        upstream,
        toUpstream: { queue: runSync(Queue.unbounded<Item>()), lastDue: 0 },
        toClient: { queue: runSync(Queue.unbounded<Item>()), lastDue: 0 },
        clientClosed: false,
        upstreamClosed: false,
        released: false
      }
      connections.add(pair)
      wire(pair, client, pair.toUpstream, "client")
      wire(pair, upstream, pair.toClient, "upstream")
      runFork(Effect.ignore(pump(pair.toUpstream, upstream)))
      runFork(Effect.ignore(pump(pair.toClient, client)))
    }

    const listen = (port: number) =>
      Effect.async<net.Server, PortUnavailable>((resume) => {
        const server = net.createServer(onConnection)
        server.once("error", (cause) => resume(Effect.fail(new PortUnavailable({ host, port, cause }))))
        server.listen({ host, port }, () => resume(Effect.succeed(server)))
      })

    const open = (port: number) =>
      listen(port).pipe(
        Effect.retry({
          schedule: Schedule.intersect(Schedule.spaced("50 millis"), Schedule.recurs(40)),
          while: (error) => (error.cause as NodeJS.ErrnoException | undefined)?.code === "EADDRINUSE"
        }),
        Effect.tap((server) =>
          Effect.sync(() => {
            listener = server
          })
        )
      )

    const closeListener = Effect.sync(() => {
      listener?.close()
      listener = undefined
    })

    const destroyAll = (how: (socket: net.Socket) => void) =>
      Effect.sync(() => {
        for (const pair of [...connections]) {
          how(pair.client)
          how(pair.upstream)
          release(pair)
        }
      })

    yield* Effect.addFinalizer(() =>
      Effect.zipRight(
        closeListener,
        destroyAll((socket) => socket.destroy())
      )
    )

    const first = yield* open(options.port ?? 0)
    const address = first.address()
    const port = typeof address === "object" && address !== null ? address.port : (options.port ?? 0)

    const setMode = (next: Mode) =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const previous = mode
          if (next._tag === "Refuse" && previous._tag !== "Refuse") yield* closeListener
          if (next._tag !== "Refuse" && previous._tag === "Refuse") yield* open(port)
          if (next._tag === "Blackhole") yield* gate.close
          else yield* gate.open
          mode = next
        })
      )

    if (options.mode !== undefined) yield* setMode(options.mode)

    const proxy: Proxy = {
      host,
      port,
      url: proxyUrl(options.target, port),
      target: options.target,
      mode: Effect.sync(() => mode),
      setMode,
      resetConnections: destroyAll(reset),
      connectionCount: Effect.sync(() => connections.size)
    }
    return proxy
  })
