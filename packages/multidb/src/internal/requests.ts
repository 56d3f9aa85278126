import { Effect, Option } from "effect"
import type { Batch, BatchReplies, ExecuteOptions, Multi, MultiDbClient as Service } from "../MultiDbClient.js"
import { type CommandError, InvalidRequest, TransactionAborted } from "../MultiDbError.js"
import type * as RedisConnection from "../RedisConnection.js"
import { commandName, memberLocalCommands, readOnlyCommands } from "./commands.js"

type Run = <A>(
  f: (client: RedisConnection.RedisClient) => Promise<A>,
  options?: ExecuteOptions
) => Effect.Effect<A, CommandError>

/**
 * What an application asks for, turned into executor calls: the `commands` Proxy, `sendCommand`, and pipelines and
 * transactions (dry-run first to learn their command names, so a batch that only reads may be retried).
 */
export const make = (execute: Run, executeIsolated: Run) => {
  const rejectMemberLocal = (command: string) =>
    Effect.fail(
      new InvalidRequest({
        reason: `${command} keeps state on one member of the database only and would silently vanish after a failover; it is not supported by MultiDbClient`
      })
    )

  const commandCache = new Map<string, (...args: Array<unknown>) => Effect.Effect<unknown, CommandError>>()
  const commands = new Proxy(
    {},
    {
      get: (_, property) => {
        if (typeof property !== "string") return undefined
        let fn = commandCache.get(property)
        if (fn === undefined) {
          const command = commandName(property)
          const readOnly = readOnlyCommands.has(command)
          fn = memberLocalCommands.has(command.replace(/_/g, "."))
            ? () => rejectMemberLocal(command)
            : (...args: Array<unknown>) =>
                execute(
                  (client) =>
                    (client as unknown as Record<string, (...a: Array<unknown>) => Promise<unknown>>)[property]!(
                      ...args
                    ),
                  { command, readOnly }
                )
          commandCache.set(property, fn)
        }
        return fn
      }
    }
  ) as Service["commands"]

  const sendCommand = (args: ReadonlyArray<string | Buffer>) => {
    if (args.length === 0) return Effect.fail(new InvalidRequest({ reason: "sendCommand needs a command name" }))
    const command = String(args[0]).toUpperCase()
    if (memberLocalCommands.has(command)) return rejectMemberLocal(command)
    return execute((client) => client.sendCommand([...args]), {
      command,
      readOnly: readOnlyCommands.has(command)
    })
  }

  // ---- pipelines and transactions ------------------------------------------------------------------------------

  /** Runs a builder on a stand-in MULTI to learn the command names it queues. */
  const batchCommands = (build: (multi: Multi) => unknown): Array<string> => {
    const names: Array<string> = []
    const stub: unknown = new Proxy(
      {},
      {
        get: (_, property) => {
          if (typeof property !== "string" || property === "then") return undefined
          return (...args: Array<unknown>) => {
            if (property === "addCommand")
              names.push(String((args[0] as ReadonlyArray<unknown>)?.[0] ?? "").toUpperCase())
            else names.push(commandName(property))
            return stub
          }
        }
      }
    )
    try {
      build(stub as Multi)
    } catch {
      // a builder that reads real values cannot be dry-run: treat it as a write
      names.push("UNKNOWN")
    }
    return names
  }

  const checkBatch = (names: ReadonlyArray<string>, kind: string) => {
    const local = names.find((n) => memberLocalCommands.has(n.replace(/_/g, ".")))
    if (local !== undefined) return Option.some(rejectMemberLocal(local))
    if (names.length === 0) {
      return Option.some(Effect.fail(new InvalidRequest({ reason: `${kind} has no commands` })))
    }
    return Option.none()
  }

  const pipeline = <M extends Batch>(build: (multi: Multi) => M): Effect.Effect<BatchReplies<M>, CommandError> =>
    Effect.suspend(() => {
      const names = batchCommands(build)
      const invalid = checkBatch(names, "pipeline")
      if (Option.isSome(invalid)) return invalid.value
      return execute((client) => build(client.multi()).execTyped(true) as Promise<BatchReplies<M>>, {
        command: `PIPELINE(${names.join(",")})`,
        readOnly: names.every((n) => readOnlyCommands.has(n))
      })
    })

  const transaction = <M extends Batch>(
    build: (multi: Multi, client: RedisConnection.RedisClient) => M | Promise<M>,
    options?: { readonly watch?: ReadonlyArray<string> }
  ): Effect.Effect<BatchReplies<M>, CommandError> =>
    Effect.suspend(() => {
      const watch = options?.watch ?? []
      const names = watch.length === 0 ? batchCommands((multi) => build(multi, undefined as never)) : ["UNKNOWN"]
      const invalid = watch.length === 0 ? checkBatch(names, "transaction") : Option.none()
      if (Option.isSome(invalid)) return invalid.value
      const command = watch.length === 0 ? `MULTI(${names.join(",")})` : "MULTI"
      const readOnly = names.every((n) => readOnlyCommands.has(n))
      const result =
        watch.length === 0
          ? execute(
              async (client) => (await build(client.multi(), client)).execTyped(false) as Promise<BatchReplies<M>>,
              { command, readOnly }
            )
          : executeIsolated(
              async (client) => {
                await client.watch([...watch])
                const multi = await build(client.multi(), client)
                return multi.execTyped(false) as Promise<BatchReplies<M>>
              },
              { command, readOnly: false }
            )
      return Effect.catchTag(result, "TransactionAborted", (error) =>
        Effect.fail(new TransactionAborted({ database: error.database, watched: watch }))
      )
    })

  return { commands, sendCommand, pipeline, transaction }
}
