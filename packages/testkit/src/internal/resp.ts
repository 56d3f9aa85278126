import * as net from "node:net"
import * as tls from "node:tls"
import { Duration, Effect } from "effect"
import { RedisCommandFailed } from "../TestkitError.js"

/** Where and how the testkit itself talks to a server it manages. */
export interface Endpoint {
  readonly host: string
  readonly port: number
  readonly password: string | undefined
  readonly tls: { readonly ca: string; readonly cert: string; readonly key: string } | undefined
}

/** A RESP2 reply. Error replies are returned as `ReplyError` values, not thrown. */
export type Reply = string | number | null | ReplyError | ReadonlyArray<Reply>

/** An error reply (`-ERR ...`). */
export class ReplyError {
  constructor(readonly text: string) {}
}

const encode = (args: ReadonlyArray<string>) => {
  let out = `*${args.length}\r\n`
  for (const arg of args) out += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`
  return out
}

/** Parses one reply at `offset`; `undefined` when the buffer does not hold a whole reply yet. */
const parse = (buffer: Buffer, offset: number): { readonly reply: Reply; readonly next: number } | undefined => {
  const lineEnd = buffer.indexOf("\r\n", offset)
  if (lineEnd === -1) return undefined
  const type = String.fromCharCode(buffer[offset]!)
  const line = buffer.toString("utf8", offset + 1, lineEnd)
  const next = lineEnd + 2
  switch (type) {
    case "+":
      return { reply: line, next }
    case "-":
      return { reply: new ReplyError(line), next }
    case ":":
      return { reply: Number(line), next }
    case "$": {
      const length = Number(line)
      if (length < 0) return { reply: null, next }
      if (buffer.length < next + length + 2) return undefined
      return { reply: buffer.toString("utf8", next, next + length), next: next + length + 2 }
    }
    case "*": {
      const count = Number(line)
      if (count < 0) return { reply: null, next }
      const items: Array<Reply> = []
      let position = next
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, position)
        if (item === undefined) return undefined
        items.push(item.reply)
        position = item.next
      }
      return { reply: items, next: position }
    }
    default:
      throw new Error(`Unexpected RESP type byte ${JSON.stringify(type)}`)
  }
}

/**
 * Opens a fresh connection (TLS without verifying the server: the testkit probes its own, possibly deliberately
 * broken, servers), authenticates when a password is set, sends `commands` pipelined, returns their
 * replies and closes the connection. Connection errors and the timeout fail with `RedisCommandFailed`.
 */
export const send = (
  endpoint: Endpoint,
  commands: ReadonlyArray<ReadonlyArray<string>>,
  timeout: Duration.DurationInput = "2 seconds"
) => {
  const display = commands.map((command) => command[0]).join("+")
  const all = endpoint.password !== undefined ? [["AUTH", endpoint.password], ...commands] : commands
  return Effect.async<ReadonlyArray<Reply>, RedisCommandFailed>((resume) => {
    const fail = (reason: string) =>
      resume(
        Effect.fail(new RedisCommandFailed({ host: endpoint.host, port: endpoint.port, command: display, reason }))
      )
    const socket =
      endpoint.tls !== undefined
        ? tls.connect({ host: endpoint.host, port: endpoint.port, ...endpoint.tls, rejectUnauthorized: false })
        : net.connect({ host: endpoint.host, port: endpoint.port })
    let buffer = Buffer.alloc(0)
    const replies: Array<Reply> = []
    let done = false
    socket.on(endpoint.tls !== undefined ? "secureConnect" : "connect", () => {
      socket.write(all.map(encode).join(""))
    })
    socket.on("data", (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk])
      try {
        let parsed = parse(buffer, 0)
        while (parsed !== undefined) {
          replies.push(parsed.reply)
          buffer = buffer.subarray(parsed.next)
          parsed = buffer.length > 0 ? parse(buffer, 0) : undefined
        }
      } catch (error) {
        done = true
        socket.destroy()
        return fail(String(error))
      }
      if (replies.length >= all.length && !done) {
        done = true
        socket.destroy()
        const own = endpoint.password !== undefined ? replies.slice(1) : replies
        const auth = endpoint.password !== undefined ? replies[0] : "OK"
        if (auth instanceof ReplyError) return fail(`AUTH failed: ${auth.text}`)
        resume(Effect.succeed(own))
      }
    })
    socket.on("error", (error) => {
      if (done) return
      done = true
      fail(error.message)
    })
    socket.on("close", () => {
      if (done) return
      done = true
      fail("connection closed before all replies arrived")
    })
    return Effect.sync(() => {
      done = true
      socket.destroy()
    })
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new RedisCommandFailed({
          host: endpoint.host,
          port: endpoint.port,
          command: display,
          reason: `no reply within ${Duration.format(Duration.decode(timeout))}`
        })
    })
  )
}

/** Sends one command and fails with `RedisCommandFailed` on an error reply. */
export const command = (endpoint: Endpoint, args: ReadonlyArray<string>, timeout?: Duration.DurationInput) =>
  send(endpoint, [args], timeout).pipe(
    Effect.flatMap(([reply]) =>
      reply instanceof ReplyError
        ? Effect.fail(
            new RedisCommandFailed({ host: endpoint.host, port: endpoint.port, command: args[0]!, reason: reply.text })
          )
        : Effect.succeed(reply ?? null)
    )
  )
