import * as net from "node:net"
import { Effect } from "effect"

/** One connection through the proxy while it is hostile. */
export interface HostileSocket {
  /** When the proxy started streaming the endless reply on it (performance.now()). */
  readonly startedAt: number
  /** When the client closed it, if it has. */
  closedAt: number | undefined
  /** Bytes of the endless reply written to it. */
  sent: number
}

/**
 * A TCP proxy in front of a real redis-server that, once made hostile, answers whatever a connection sends next with
 * a `$2147483000` bulk header followed by an endless stream of bytes (`chunk` bytes every `everyMillis`), and never
 * forwards anything again on it. Closed with the scope.
 */
export const make = (targetPort: number, options: { readonly chunk?: number; readonly everyMillis?: number } = {}) =>
  Effect.acquireRelease(
    Effect.async<{
      readonly url: string
      readonly hostile: Effect.Effect<void>
      readonly sockets: ReadonlyArray<HostileSocket>
    }>((resume) => {
      const chunk = Buffer.alloc(options.chunk ?? 256 * 1024, "x")
      const everyMillis = options.everyMillis ?? 5
      const hostileSockets: Array<HostileSocket> = []
      let hostile = false
      const timers = new Set<ReturnType<typeof setInterval>>()
      const open = new Set<net.Socket>()
      const server = net.createServer((client) => {
        open.add(client)
        const upstream = net.connect(targetPort, "127.0.0.1")
        let streaming = false
        const cleanup = () => {
          open.delete(client)
          upstream.destroy()
          client.destroy()
        }
        client.on("error", cleanup)
        client.on("close", cleanup)
        upstream.on("error", cleanup)
        upstream.on("data", (data) => {
          if (!streaming) client.write(data)
        })
        client.on("data", (data) => {
          if (!hostile) {
            upstream.write(data)
            return
          }
          if (streaming) return
          streaming = true
          const record: HostileSocket = { startedAt: performance.now(), closedAt: undefined, sent: 0 }
          hostileSockets.push(record)
          client.write("$2147483000\r\n")
          const timer = setInterval(() => {
            if (client.destroyed || record.sent > 2_000_000_000) {
              clearInterval(timer)
              timers.delete(timer)
              return
            }
            if (client.writableLength < chunk.length * 4) {
              client.write(chunk)
              record.sent += chunk.length
            }
          }, everyMillis)
          timers.add(timer)
          client.on("close", () => {
            record.closedAt = performance.now()
            clearInterval(timer)
            timers.delete(timer)
          })
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const port = (server.address() as net.AddressInfo).port
        resume(
          Effect.succeed({
            url: `redis://127.0.0.1:${port}`,
            hostile: Effect.sync(() => {
              hostile = true
            }),
            sockets: hostileSockets,
            close: () => {
              for (const timer of timers) clearInterval(timer)
              for (const socket of open) socket.destroy()
              server.close()
            }
          })
        )
      })
    }),
    (proxy) => Effect.sync(() => (proxy as unknown as { close: () => void }).close())
  )
