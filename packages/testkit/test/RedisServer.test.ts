import * as fs from "node:fs"
import * as net from "node:net"
import { describe, expect, it } from "@effect/vitest"
import { Certificates, RedisServer } from "@effect-redis/testkit"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import { connect, connectError, processExists, rejection, waitUntil } from "./helpers.js"

describe("RedisServer", () => {
  it.scopedLive("starts a server on a free port that answers PING and SET/GET", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      expect(server.host).toBe("127.0.0.1")
      expect(server.url).toBe(`redis://127.0.0.1:${server.port}`)
      expect(yield* server.isRunning).toBe(true)
      const { client } = yield* connect({ url: server.url })
      expect(yield* Effect.promise(() => client.ping())).toBe("PONG")
      yield* Effect.promise(() => client.set("key", "value"))
      expect(yield* Effect.promise(() => client.get("key"))).toBe("value")
      expect(yield* Effect.promise(() => client.configGet("save"))).toEqual({ save: "" })
      expect(yield* Effect.promise(() => client.configGet("appendonly"))).toEqual({ appendonly: "no" })
    })
  )

  it.scopedLive("requires the password when one is set", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make({ password: "s3cret/:@" })
      expect(Option.getOrNull(server.password)).toBe("s3cret/:@")
      expect(server.url).toBe(`redis://:${encodeURIComponent("s3cret/:@")}@127.0.0.1:${server.port}`)
      const anonymous = yield* connectError({ url: `redis://127.0.0.1:${server.port}` })
      expect(String(anonymous)).toMatch(/NOAUTH/)
      const wrong = yield* connectError({ url: `redis://:wrong@127.0.0.1:${server.port}` })
      expect(String(wrong)).toMatch(/WRONGPASS/)
      const { client } = yield* connect({ url: server.url })
      expect(yield* Effect.promise(() => client.ping())).toBe("PONG")
    })
  )

  it.scopedLive("serves TLS only, with certificates the exposed CA verifies", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make({ tls: true })
      expect(server.url).toBe(`rediss://127.0.0.1:${server.port}`)
      const tls = Option.getOrThrow(server.tls)
      expect(tls.ca).toContain("BEGIN CERTIFICATE")
      const { client } = yield* connect({ url: server.url, socket: { tls: true, host: "127.0.0.1", ...tls } })
      expect(yield* Effect.promise(() => client.ping())).toBe("PONG")
      const untrusted = yield* connectError({ url: server.url, socket: { tls: true, host: "127.0.0.1" } })
      expect(untrusted).not.toBe("connected")
      const plain = yield* connectError({ url: `redis://127.0.0.1:${server.port}` })
      expect(plain).not.toBe("connected")
    })
  )

  it.scopedLive("serves TLS with a deliberately broken certificate that verifying clients reject", () =>
    Effect.gen(function* () {
      const certs = yield* Certificates.make()
      const expired = yield* certs.expiredServer
      const server = yield* RedisServer.make({ tls: { ...certs, server: expired } })
      const tls = Option.getOrThrow(server.tls)
      const error = yield* connectError({ url: server.url, socket: { tls: true, host: "127.0.0.1", ...tls } })
      expect(error).toMatchObject({ code: "CERT_HAS_EXPIRED" })
    })
  )

  it.scopedLive("kill ends the process and a connected client sees the connection fail", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      const { client, errors } = yield* connect({ url: server.url, socket: { reconnectStrategy: false } })
      const pid = yield* server.pid
      expect(processExists(pid)).toBe(true)
      yield* server.kill
      expect(yield* server.isRunning).toBe(false)
      expect(processExists(pid)).toBe(false)
      yield* waitUntil(() => !client.isOpen)
      expect(errors.length).toBeGreaterThan(0)
      expect(yield* rejection(() => client.ping())).not.toBe("resolved")
      expect(yield* connectError({ url: server.url })).toMatchObject({ code: "ECONNREFUSED" })
    })
  )

  it.scopedLive("stop freezes the server and resume makes it answer again", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      const { client } = yield* connect({ url: server.url })
      yield* server.stop
      expect(yield* server.isStopped).toBe(true)
      expect(yield* server.isRunning).toBe(true)
      const stalled = yield* Effect.promise(() => client.ping()).pipe(Effect.timeout("200 millis"), Effect.flip)
      expect(stalled._tag).toBe("TimeoutException")
      yield* server.resume
      expect(yield* server.isStopped).toBe(false)
      expect(yield* Effect.promise(() => client.ping())).toBe("PONG")
    })
  )

  it.scopedLive("restart starts a fresh process on the same port", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make({ password: "pw" })
      const before = yield* server.pid
      const first = yield* connect({ url: server.url })
      yield* Effect.promise(() => first.client.set("key", "value"))
      yield* server.restart
      const after = yield* server.pid
      expect(after).not.toBe(before)
      expect(processExists(before)).toBe(false)
      expect(yield* server.isRunning).toBe(true)
      const { client } = yield* connect({ url: server.url })
      expect(yield* Effect.promise(() => client.get("key"))).toBeNull()
      yield* server.kill
      yield* server.restart
      expect(yield* Effect.promise(() => client.ping())).toBe("PONG")
    })
  )

  it.scopedLive("restarts a stopped server", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      yield* server.stop
      yield* server.restart
      expect(yield* server.isStopped).toBe(false)
      const { client } = yield* connect({ url: server.url })
      expect(yield* Effect.promise(() => client.ping())).toBe("PONG")
    })
  )

  it.scopedLive("listens on a fixed port and fails with PortUnavailable when it is taken", () =>
    Effect.gen(function* () {
      const blocker = yield* Effect.async<net.Server>((resume) => {
        const listener = net.createServer((socket) => socket.destroy())
        listener.listen(0, "127.0.0.1", () => resume(Effect.succeed(listener)))
      })
      const taken = (blocker.address() as net.AddressInfo).port
      const error = yield* Effect.flip(Effect.scoped(RedisServer.make({ port: taken })))
      expect(error._tag).toBe("PortUnavailable")
      yield* Effect.async<void>((resume) => void blocker.close(() => resume(Effect.void)))
      const server = yield* RedisServer.make({ port: taken })
      expect(server.port).toBe(taken)
    })
  )

  it.live("a start failure reports the server's last log lines", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(RedisServer.make({ args: ["--no-such-directive", "yes"] })))
      expect(error._tag).toBe("ServerStartFailed")
      expect(error.message).toMatch(/no-such-directive/)
    })
  )

  it.live("closing the scope kills the process and removes its dir, also when the body fails", () =>
    Effect.gen(function* () {
      let seen: { pid: number; dir: string } | undefined
      const exit = yield* Effect.exit(
        Effect.scoped(
          Effect.gen(function* () {
            const server = yield* RedisServer.make()
            seen = { pid: yield* server.pid, dir: server.dir }
            expect(fs.existsSync(server.dir)).toBe(true)
            return yield* Effect.fail("test body failed")
          })
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(seen).toBeDefined()
      expect(processExists(seen!.pid)).toBe(false)
      expect(fs.existsSync(seen!.dir)).toBe(false)
    })
  )

  it.live("closing the scope of a stopped server kills it", () =>
    Effect.gen(function* () {
      const pid = yield* Effect.scoped(
        Effect.gen(function* () {
          const server = yield* RedisServer.make()
          yield* server.stop
          return yield* server.pid
        })
      )
      expect(processExists(pid)).toBe(false)
    })
  )

  it.live("interrupting the scope's fiber kills the process", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<{ pid: number; dir: string }>()
      const fiber = yield* Effect.fork(
        Effect.scoped(
          Effect.gen(function* () {
            const server = yield* RedisServer.make()
            yield* Deferred.succeed(started, { pid: yield* server.pid, dir: server.dir })
            return yield* Effect.never
          })
        )
      )
      const { pid, dir } = yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      expect(processExists(pid)).toBe(false)
      expect(fs.existsSync(dir)).toBe(false)
    })
  )

  it.live("leaves no orphan process behind", () =>
    Effect.gen(function* () {
      const pids = yield* Effect.scoped(
        Effect.gen(function* () {
          const servers = yield* Effect.all([RedisServer.make(), RedisServer.make({ tls: true })], {
            concurrency: "unbounded"
          })
          const pids = yield* Effect.forEach(servers, (server) => server.pid)
          const marked = (yield* RedisServer.leftoverProcesses).map((leftover) => leftover.pid)
          expect(marked).toEqual(expect.arrayContaining(pids))
          return pids
        })
      )
      const marked = (yield* RedisServer.leftoverProcesses).map((leftover) => leftover.pid)
      for (const pid of pids) {
        expect(marked).not.toContain(pid)
        expect(processExists(pid)).toBe(false)
      }
    })
  )
})
