import { Effect, Option } from "effect"
import type { TypeMapping } from "redis"
import type { Batch, BatchReplies, ExecuteOptions, Multi, MultiDbClient as Service } from "../MultiDbClient.js"
import { type CommandError, InvalidRequest, TransactionAborted } from "../MultiDbError.js"
import type * as RedisConnection from "../RedisConnection.js"
import * as Commands from "./commands.js"
import * as Telemetry from "./telemetry.js"

type Run = <A>(
  f: (client: RedisConnection.RedisClient) => Promise<A>,
  options?: ExecuteOptions
) => Effect.Effect<A, CommandError>

/**
 * What an application asks for, turned into executor calls: the `commands` Proxy, `sendCommand`, and pipelines and
 * transactions (dry-run first to learn their command names, so a batch that only reads may be retried).
 */
/** Runs a call on a blocking connection: `block` is how long the command blocks (ms; `Infinity` for ever). */
type RunBlocking = <A>(
  f: (client: RedisConnection.RedisClient) => Promise<A>,
  options: ExecuteOptions,
  block: number
) => Effect.Effect<A, CommandError>

export const make = (
  execute: Run,
  executeIsolated: Run,
  executeBlocking: RunBlocking = (f, options) => executeIsolated(f, options),
  telemetry?: Telemetry.Telemetry
) => {
  const rejectMemberLocal = (command: string) =>
    Effect.fail(
      new InvalidRequest({
        reason: `${command} keeps state on one member of the database only and would silently vanish after a failover; it is not supported by MultiDbClient`
      })
    )

  const runner: Commands.CommandRunner<CommandError> = {
    run: (f, options, block) => (block === undefined ? execute(f, options) : executeBlocking(f, options, block)),
    refuse: (reason) => Effect.fail(new InvalidRequest({ reason }))
  }
  /** With keys recorded, each command's `db.query.text` (its keys) goes to its span through `QueryText`. */
  const keyed = (inner: object): object => {
    if (telemetry?.options.keys !== true) return inner
    const cache = new Map<string, (...args: Array<unknown>) => Effect.Effect<unknown, CommandError>>()
    return new Proxy(inner, {
      get: (target, property) => {
        const fn: unknown = Reflect.get(target, property)
        if (typeof property !== "string" || typeof fn !== "function") return fn
        let wrapped = cache.get(property)
        if (wrapped === undefined) {
          wrapped = (...args) =>
            Effect.provideService(
              (fn as (...a: Array<unknown>) => Effect.Effect<unknown, CommandError>)(...args),
              Telemetry.QueryText,
              telemetry.queryText(property, args)
            )
          cache.set(property, wrapped)
        }
        return wrapped
      }
    })
  }
  const commands = keyed(Commands.makeCommands(runner)) as Service["commands"]
  const sendCommand = Commands.makeSendCommand(runner)
  const withTypeMapping = ((typeMapping: TypeMapping) => ({
    commands: keyed(Commands.makeCommands(runner, typeMapping)),
    sendCommand: Commands.makeSendCommand(runner, typeMapping)
  })) as Service["withTypeMapping"]

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
            else names.push(Commands.commandName(property))
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
    const stateful = names.find((n) => Commands.connectionStateCommands.has(n.replace(" ", "|")))
    if (stateful !== undefined) {
      const reason = Commands.refusal(Commands.describeArgs(stateful.split(" ")))
      if (reason !== undefined) return Option.some(Effect.fail(new InvalidRequest({ reason })))
    }
    const local = names.find((n) => Commands.memberLocalCommands.has(n.replace(/_/g, ".")))
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
        readOnly: names.every(Commands.isReadOnlyName)
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
      const readOnly = names.every(Commands.isReadOnlyName)
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

  return { commands, sendCommand, withTypeMapping, pipeline, transaction }
}
