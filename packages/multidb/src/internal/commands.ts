import * as diagnostics from "node:diagnostics_channel"
import { createRequire } from "node:module"
import type { Effect } from "effect"
import type { TypeMapping } from "redis"
import type { RedisClient } from "../RedisConnection.js"

/**
 * Redis commands that never change data, as the server flags them (`COMMAND INFO`: `readonly`), with subcommands as
 * `CONTAINER|SUB`, plus commands that write nothing (PING, TIME, CLIENT INFO, …) and read-only module commands.
 * node-redis' own `IS_READ_ONLY` is not used: versions disagree with the server both ways (node-redis 5 marks BLPOP
 * read-only and FCALL_RO not), and the server's flags are the truth.
 */
export const readOnlyCommands: ReadonlySet<string> = new Set([
  "BITCOUNT",
  "BITFIELD_RO",
  "BITPOS",
  "CLIENT|GETNAME",
  "CLIENT|ID",
  "CLIENT|INFO",
  "COMMAND",
  "COMMAND|COUNT",
  "COMMAND|DOCS",
  "COMMAND|GETKEYS",
  "COMMAND|GETKEYSANDFLAGS",
  "COMMAND|INFO",
  "COMMAND|LIST",
  "DBSIZE",
  "DUMP",
  "ECHO",
  "EVALSHA_RO",
  "EVAL_RO",
  "EXISTS",
  "EXPIRETIME",
  "FCALL_RO",
  "GEODIST",
  "GEOHASH",
  "GEOPOS",
  "GEORADIUSBYMEMBER_RO",
  "GEORADIUS_RO",
  "GEOSEARCH",
  "GET",
  "GETBIT",
  "GETRANGE",
  "HEXISTS",
  "HEXPIRETIME",
  "HGET",
  "HGETALL",
  "HKEYS",
  "HLEN",
  "HMGET",
  "HPEXPIRETIME",
  "HPTTL",
  "HRANDFIELD",
  "HSCAN",
  "HSTRLEN",
  "HTTL",
  "HVALS",
  "INFO",
  "KEYS",
  "LASTSAVE",
  "LCS",
  "LINDEX",
  "LLEN",
  "LOLWUT",
  "LPOS",
  "LRANGE",
  "MEMORY|USAGE",
  "MGET",
  "OBJECT|ENCODING",
  "OBJECT|FREQ",
  "OBJECT|IDLETIME",
  "OBJECT|REFCOUNT",
  "PEXPIRETIME",
  "PFCOUNT",
  "PING",
  "PTTL",
  "PUBSUB|CHANNELS",
  "PUBSUB|NUMPAT",
  "PUBSUB|NUMSUB",
  "PUBSUB|SHARDCHANNELS",
  "PUBSUB|SHARDNUMSUB",
  "RANDOMKEY",
  "ROLE",
  "SCAN",
  "SCARD",
  "SDIFF",
  "SINTER",
  "SINTERCARD",
  "SISMEMBER",
  "SMEMBERS",
  "SMISMEMBER",
  "SORT_RO",
  "SRANDMEMBER",
  "SSCAN",
  "STRLEN",
  "SUBSTR",
  "SUNION",
  "TIME",
  "TOUCH",
  "TTL",
  "TYPE",
  "XINFO|CONSUMERS",
  "XINFO|GROUPS",
  "XINFO|STREAM",
  "XLEN",
  "XPENDING",
  "XRANGE",
  "XREAD",
  "XREVRANGE",
  "ZCARD",
  "ZCOUNT",
  "ZDIFF",
  "ZINTER",
  "ZINTERCARD",
  "ZLEXCOUNT",
  "ZMSCORE",
  "ZRANDMEMBER",
  "ZRANGE",
  "ZRANGEBYLEX",
  "ZRANGEBYSCORE",
  "ZRANK",
  "ZREVRANGE",
  "ZREVRANGEBYLEX",
  "ZREVRANGEBYSCORE",
  "ZREVRANK",
  "ZSCAN",
  "ZSCORE",
  "ZUNION",
  "VCARD",
  "VDIM",
  "VEMB",
  "VGETATTR",
  "VINFO",
  "VLINKS",
  "VRANDMEMBER",
  "VRANGE",
  "VSIM",
  "JSON.GET",
  "JSON.MGET",
  "JSON.TYPE",
  "JSON.STRLEN",
  "JSON.OBJKEYS",
  "JSON.OBJLEN",
  "JSON.ARRLEN",
  "JSON.ARRINDEX",
  "FT.SEARCH",
  "FT.AGGREGATE",
  "FT.INFO",
  "TS.GET",
  "TS.MGET",
  "TS.RANGE",
  "TS.REVRANGE",
  "TS.MRANGE",
  "TS.MREVRANGE",
  "TS.INFO",
  "BF.EXISTS",
  "BF.MEXISTS",
  "CF.EXISTS",
  "CF.MEXISTS",
  "CF.COUNT"
])

/** Commands whose first argument is a subcommand that names the real operation (`XINFO STREAM`). */
const containers: ReadonlySet<string> = new Set([
  "ACL",
  "CLIENT",
  "CLUSTER",
  "COMMAND",
  "CONFIG",
  "FUNCTION",
  "LATENCY",
  "MEMORY",
  "MODULE",
  "OBJECT",
  "PUBSUB",
  "SCRIPT",
  "SLOWLOG",
  "XGROUP",
  "XINFO"
])

/**
 * Commands that keep state on one member only (the HIMPORT family of Redis Software): after a failover their state
 * would silently be gone, so the client refuses them.
 */
export const memberLocalCommands: ReadonlySet<string> = new Set([
  "HIMPORT",
  "HIMPORT.PREPARE",
  "HIMPORT.SET",
  "HIMPORT.DISCARD",
  "HIMPORT.DISCARDALL"
])

const useTransaction = "use MultiDbClient.transaction (with `watch` for WATCH)"
const useSubscribe = "use MultiDbClient.subscribe / pSubscribe / sSubscribe"

/**
 * Commands that change the state of the connection they run on. On the connection every fiber shares they would
 * change what every other fiber's commands do, so they are refused there; the value says what to use instead.
 */
export const connectionStateCommands: ReadonlyMap<string, string> = new Map([
  ["MULTI", useTransaction],
  ["EXEC", useTransaction],
  ["DISCARD", useTransaction],
  ["WATCH", useTransaction],
  ["UNWATCH", useTransaction],
  ["SUBSCRIBE", useSubscribe],
  ["UNSUBSCRIBE", useSubscribe],
  ["PSUBSCRIBE", useSubscribe],
  ["PUNSUBSCRIBE", useSubscribe],
  ["SSUBSCRIBE", useSubscribe],
  ["SUNSUBSCRIBE", useSubscribe],
  ["SELECT", "put the database number in the database's url (redis://host:port/2) or clientOptions.database"],
  ["RESET", "the client manages its connections; nothing needs resetting"],
  ["AUTH", "put the credentials in the database's url or clientOptions"],
  ["HELLO", "set the protocol and credentials in the database's clientOptions"],
  ["CLIENT|REPLY", "replies cannot be switched off on a shared connection"],
  ["CLIENT|TRACKING", "use clientOptions.clientSideCache"],
  ["CLIENT|CACHING", "use clientOptions.clientSideCache"],
  ["MONITOR", "run MONITOR with a client of your own"],
  ["QUIT", "close the MultiDbClient's scope to close its connections"],
  ["READONLY", "use the cluster options of the database (useReplicas)"],
  ["READWRITE", "use the cluster options of the database (useReplicas)"],
  ["ASKING", "the cluster client follows redirections itself"],
  ["SYNC", "replication commands are not for application clients"],
  ["PSYNC", "replication commands are not for application clients"],
  ["REPLCONF", "replication commands are not for application clients"]
])

/**
 * Members of a node-redis client that are not data commands: lifecycle, connection state, event emitter, client
 * variants. `commands` does not have them (neither in its type nor at run time); the value says what to use instead.
 */
export const nonDataMembers: ReadonlyMap<string, string> = new Map([
  ["connect", "the client connects by itself"],
  ["disconnect", "close the MultiDbClient's scope to close its connections"],
  ["quit", "close the MultiDbClient's scope to close its connections"],
  ["QUIT", "close the MultiDbClient's scope to close its connections"],
  ["close", "close the MultiDbClient's scope to close its connections"],
  ["destroy", "close the MultiDbClient's scope to close its connections"],
  ["reset", "the client manages its connections; nothing needs resetting"],
  ["resetIfDirty", "the client manages its connections; nothing needs resetting"],
  ["duplicate", "create a client of your own for a separate connection"],
  ["createPool", "create a client of your own for a separate connection"],
  ["select", connectionStateCommands.get("SELECT")!],
  ["SELECT", connectionStateCommands.get("SELECT")!],
  ["monitor", connectionStateCommands.get("MONITOR")!],
  ["MONITOR", connectionStateCommands.get("MONITOR")!],
  ["multi", useTransaction],
  ["MULTI", useTransaction],
  ["Multi", useTransaction],
  ["watch", useTransaction],
  ["WATCH", useTransaction],
  ["unwatch", useTransaction],
  ["UNWATCH", useTransaction],
  ["subscribe", useSubscribe],
  ["SUBSCRIBE", useSubscribe],
  ["unsubscribe", useSubscribe],
  ["UNSUBSCRIBE", useSubscribe],
  ["pSubscribe", useSubscribe],
  ["PSUBSCRIBE", useSubscribe],
  ["pUnsubscribe", useSubscribe],
  ["PUNSUBSCRIBE", useSubscribe],
  ["sSubscribe", useSubscribe],
  ["SSUBSCRIBE", useSubscribe],
  ["sUnsubscribe", useSubscribe],
  ["SUNSUBSCRIBE", useSubscribe],
  ["auth", connectionStateCommands.get("AUTH")!],
  ["AUTH", connectionStateCommands.get("AUTH")!],
  ["hello", connectionStateCommands.get("HELLO")!],
  ["HELLO", connectionStateCommands.get("HELLO")!],
  ["reAuthenticate", connectionStateCommands.get("AUTH")!],
  ["clientTracking", connectionStateCommands.get("CLIENT|TRACKING")!],
  ["CLIENT_TRACKING", connectionStateCommands.get("CLIENT|TRACKING")!],
  ["clientCaching", connectionStateCommands.get("CLIENT|CACHING")!],
  ["CLIENT_CACHING", connectionStateCommands.get("CLIENT|CACHING")!],
  ["readonly", connectionStateCommands.get("READONLY")!],
  ["READONLY", connectionStateCommands.get("READONLY")!],
  ["asking", connectionStateCommands.get("ASKING")!],
  ["ASKING", connectionStateCommands.get("ASKING")!],
  ["sendCommand", "use MultiDbClient.sendCommand"],
  ["withTypeMapping", "use MultiDbClient.withTypeMapping"],
  ["withCommandOptions", "use MultiDbClient.withTypeMapping or execute"],
  ["withAbortSignal", "interrupt the fiber instead"],
  ["asap", "use execute"],
  ["legacy", "use execute"]
])

/**
 * node-redis' command definitions (`@redis/client/dist/lib/commands`): each parses its arguments into the words it
 * sends, and some say whether they only read. Loaded next to the `redis` package in use; if that fails, names fall
 * back to the method name upper-cased.
 */
interface Definition {
  readonly parseCommand: (parser: unknown, ...args: ReadonlyArray<unknown>) => void
  /** Turns the raw reply into the method's result: one function, or one per RESP version. */
  readonly transformReply?: Transform | Readonly<Record<string, Transform | undefined>> | undefined
}

type Transform = (reply: unknown, preserve: unknown, typeMapping: unknown) => unknown

interface Parser {
  readonly redisArgs: ReadonlyArray<string | Buffer>
  /** The arguments node-redis knows to be keys. */
  readonly keys: ReadonlyArray<string | Buffer>
  readonly preserve?: unknown
}

const loaded = ((): {
  readonly definitions: Readonly<Record<string, Definition>>
  /** A parser; `keyPrefix` is the client's (node-redis 6), which node-redis 5's parser does not take. */
  readonly parser: (keyPrefix?: unknown) => Parser
  /** The RESP version node-redis speaks when a client's options name none (3 from node-redis 6 on, 2 before). */
  readonly defaultResp: 2 | 3
} => {
  try {
    const here = createRequire(import.meta.url)
    const fromRedis = createRequire(here.resolve("redis"))
    const definitions = fromRedis("@redis/client/dist/lib/commands/index.js").default as Record<string, Definition>
    const Basic = fromRedis("@redis/client/dist/lib/client/parser.js").BasicCommandParser as new (
      keyPrefix?: unknown
    ) => Parser
    const types = fromRedis("@redis/client/dist/lib/RESP/types.js") as { readonly DEFAULT_RESP?: unknown }
    return { definitions, parser: (keyPrefix) => new Basic(keyPrefix), defaultResp: types.DEFAULT_RESP === 3 ? 3 : 2 }
  } catch {
    return { definitions: {}, parser: () => ({ redisArgs: [], keys: [] }), defaultResp: 2 }
  }
})()

/**
 * Marks a node-redis client whose typed commands may be sent the direct way (see `directCall`), with the RESP version
 * it speaks: a standalone client without client-side caching, marked where the connection creates it.
 */
export const direct: unique symbol = Symbol.for("@effect-redis/multidb/direct")

/** The RESP version of a client created with these options when it may take the direct way, else `undefined`. */
export const directResp = (options: {
  readonly RESP?: unknown
  readonly clientSideCache?: unknown
}): 2 | 3 | undefined => {
  if (options.clientSideCache !== undefined) return undefined
  const resp = options.RESP ?? loaded.defaultResp
  return resp === 2 || resp === 3 ? resp : undefined
}

/** node-redis 6 publishes each reply here when someone listens; the direct way is then not taken. */
const replyChannel = diagnostics.channel("node-redis:command:reply")

interface DirectClient {
  readonly [direct]?: 2 | 3
  readonly _keyPrefix?: unknown
  readonly _commandOptions?: { readonly typeMapping?: unknown } | undefined
  /** The client a `withTypeMapping` view was made from (the client itself otherwise). */
  readonly _self?: { readonly _commandOptions?: unknown }
  readonly sendCommand: (args: ReadonlyArray<string | Buffer>, options?: unknown) => Promise<unknown>
}

/**
 * A typed command sent the direct way: what node-redis' method does for it (parse the arguments, send them with the
 * client's command options, transform the reply for the client's RESP version with its type mapping), without the
 * two async functions it wraps around that, which cost about a third of a GET's CPU time at high concurrency. Taken
 * only for a client marked `direct`, while nobody listens for node-redis' reply events; otherwise (and for a command
 * node-redis marks unstable under RESP3, when speaking RESP3) the method is called.
 */
const directCall = (definition: Definition | undefined) => {
  if (definition === undefined) return undefined
  const t = definition.transformReply
  const transforms = {
    2: typeof t === "function" ? t : t?.["2"],
    3: typeof t === "function" ? t : t?.["3"]
  }
  const unstable3 = (definition as { readonly unstableResp3?: unknown }).unstableResp3 === true
  return (client: DirectClient, resp: 2 | 3, args: ReadonlyArray<unknown>): Promise<unknown> | undefined => {
    if (resp === 3 && unstable3) return undefined
    const transform = transforms[resp]
    const parser = loaded.parser(client._keyPrefix)
    definition.parseCommand(parser, ...args)
    const options = client._commandOptions
    // `sendCommand` starts from the command options of the client it belongs to (`_self`): those of a client that is
    // not a `withTypeMapping` view are not passed again, which would only make it copy them twice per command
    const reply =
      options === undefined || client._self?._commandOptions === options
        ? client.sendCommand(parser.redisArgs)
        : client.sendCommand(parser.redisArgs, options)
    return transform === undefined ? reply : reply.then((raw) => transform(raw, parser.preserve, options?.typeMapping))
  }
}

/**
 * node-redis' parse of a command method's arguments: the words it sends and which of them are keys (`undefined` when
 * node-redis does not describe the method or cannot parse these arguments).
 */
export const parseCall = (method: string, args: ReadonlyArray<unknown>): Parser | undefined => {
  const definition = loaded.definitions[method]
  if (definition === undefined) return undefined
  const parser = loaded.parser()
  try {
    definition.parseCommand(parser, ...args)
  } catch {
    return undefined
  }
  return parser
}

/** The words a node-redis command method sends for these arguments (`undefined` if it cannot parse them). */
export const redisArgs = (method: string, args: ReadonlyArray<unknown>): ReadonlyArray<string | Buffer> | undefined =>
  parseCall(method, args)?.redisArgs

/** The node-redis method names that are data commands. */
export const dataMethods = (): ReadonlyArray<string> =>
  Object.keys(loaded.definitions).filter((method) => !nonDataMembers.has(method))

/** What a command is: the name it is known by (`XINFO STREAM`), its table key (`XINFO|STREAM`), whether it reads. */
export interface CommandInfo {
  readonly name: string
  readonly key: string
  readonly readOnly: boolean
}

const words = (args: ReadonlyArray<string | Buffer>): CommandInfo => {
  const first = String(args[0] ?? "").toUpperCase()
  const key = containers.has(first) && args.length > 1 ? `${first}|${String(args[1]).toUpperCase()}` : first
  return { name: key.replace("|", " "), key, readOnly: readOnlyCommands.has(key) }
}

/** What a raw command (`["GET", "k"]`) is. */
export const describeArgs = (args: ReadonlyArray<string | Buffer>): CommandInfo => words(args)

/** What a node-redis method sends: its name from its own definition, read-only from the table. */
export const describeMethod = (method: string): CommandInfo => {
  const definition = loaded.definitions[method]
  if (definition === undefined) {
    const name = method.toUpperCase()
    return { name, key: name, readOnly: readOnlyCommands.has(name) }
  }
  const parser = loaded.parser()
  try {
    definition.parseCommand(parser)
  } catch {
    // the words pushed before the missing arguments are enough
  }
  return parser.redisArgs.length > 0 ? words(parser.redisArgs) : words([method.toUpperCase()])
}

/** Why a raw command is refused on the shared connection, or `undefined` when it is not. */
export const refusal = (info: CommandInfo): string | undefined => {
  const alternative = connectionStateCommands.get(info.key) ?? connectionStateCommands.get(info.name)
  return alternative === undefined
    ? undefined
    : `${info.name} changes the state of the connection every fiber shares, so it is refused: ${alternative}`
}

const seconds = (value: string | Buffer | undefined) => Number(String(value)) * 1000
const millis = (value: string | Buffer | undefined) => Number(String(value))

/** Where each blocking command carries its timeout, in milliseconds (`undefined`: this call does not block). */
const blockingTimeouts: ReadonlyMap<string, (args: ReadonlyArray<string | Buffer>) => number | undefined> = new Map<
  string,
  (args: ReadonlyArray<string | Buffer>) => number | undefined
>([
  ["BLPOP", (args) => seconds(args[args.length - 1])],
  ["BRPOP", (args) => seconds(args[args.length - 1])],
  ["BZPOPMIN", (args) => seconds(args[args.length - 1])],
  ["BZPOPMAX", (args) => seconds(args[args.length - 1])],
  ["BRPOPLPUSH", (args) => seconds(args[args.length - 1])],
  ["BLMOVE", (args) => seconds(args[5])],
  ["BLMOVEM", (args) => seconds(args[5])],
  ["BLMPOP", (args) => seconds(args[1])],
  ["BZMPOP", (args) => seconds(args[1])],
  ["WAIT", (args) => millis(args[args.length - 1])],
  ["WAITAOF", (args) => millis(args[args.length - 1])],
  ["XREAD", (args) => streamBlock(args)],
  ["XREADGROUP", (args) => streamBlock(args)]
])

const streamBlock = (args: ReadonlyArray<string | Buffer>): number | undefined => {
  for (let i = 1; i < args.length - 1; i++) {
    const word = String(args[i]).toUpperCase()
    if (word === "STREAMS") return undefined
    if (word === "BLOCK") return millis(args[i + 1])
  }
  return undefined
}

/** Whether a command may block, judging by its name only. */
export const mayBlock = (info: CommandInfo): boolean => blockingTimeouts.has(info.key)

/**
 * How long a raw command blocks the server: `undefined` when it does not block, `Infinity` for a timeout of 0
 * (forever), otherwise milliseconds (an unreadable timeout counts as 0: the server answers with an error at once).
 */
export const blockMillis = (args: ReadonlyArray<string | Buffer>): number | undefined => {
  const timeoutOf = blockingTimeouts.get(words(args).key)
  if (timeoutOf === undefined) return undefined
  const timeout = timeoutOf(args)
  if (timeout === undefined) return undefined
  if (!Number.isFinite(timeout) || timeout < 0) return 0
  return timeout === 0 ? Number.POSITIVE_INFINITY : timeout
}

/** Commands whose keys follow a key count: where the count is (the keys start right after it). */
const keyCounts: ReadonlyMap<string, number> = new Map([
  ["LMPOP", 1],
  ["ZMPOP", 1],
  ["SINTERCARD", 1],
  ["ZINTERCARD", 1],
  ["ZDIFF", 1],
  ["ZINTER", 1],
  ["ZUNION", 1],
  ["BLMPOP", 2],
  ["BZMPOP", 2],
  ["EVAL", 2],
  ["EVALSHA", 2],
  ["EVAL_RO", 2],
  ["EVALSHA_RO", 2],
  ["FCALL", 2],
  ["FCALL_RO", 2]
])

/** Container subcommands whose key is the word after the subcommand (`XINFO STREAM key`). */
const keyedSubcommands: ReadonlySet<string> = new Set([
  "MEMORY|USAGE",
  "OBJECT|ENCODING",
  "OBJECT|FREQ",
  "OBJECT|IDLETIME",
  "OBJECT|REFCOUNT",
  "XGROUP|CREATE",
  "XGROUP|CREATECONSUMER",
  "XGROUP|DELCONSUMER",
  "XGROUP|DESTROY",
  "XGROUP|SETID",
  "XINFO|CONSUMERS",
  "XINFO|GROUPS",
  "XINFO|STREAM"
])

/**
 * The first key of a raw command, which decides the cluster node it goes to: the word after the command name for most
 * commands, but not for those that count their keys (`BLMPOP 0 1 key LEFT`), read streams (`XREAD COUNT 1 STREAMS
 * key 0`), name a subcommand or an operation first (`XINFO STREAM key`, `BITOP AND dest key`) or `MIGRATE`;
 * `undefined` when the call names no key (any node will do). A wrong one is not corrected: after each MOVED
 * node-redis sends the command by the same word again, until it gives up.
 */
export const firstKey = (args: ReadonlyArray<string | Buffer>): string | Buffer | undefined => {
  const { key } = words(args)
  const count = keyCounts.get(key)
  if (count !== undefined) return Number(String(args[count])) > 0 ? args[count + 1] : undefined
  if (key === "XREAD" || key === "XREADGROUP") {
    for (let i = 1; i < args.length - 1; i++) {
      if (String(args[i]).toUpperCase() === "STREAMS") return args[i + 1]
    }
    return undefined
  }
  if (keyedSubcommands.has(key) || key === "BITOP") return args[2]
  if (key === "MIGRATE") {
    // MIGRATE host port key db timeout, or with "" for the key: … KEYS key …
    if (String(args[3] ?? "") !== "") return args[3]
    const keys = args.findIndex((word) => String(word).toUpperCase() === "KEYS")
    return keys < 0 ? undefined : args[keys + 1]
  }
  return containers.has(key.split("|")[0]!) ? undefined : args[1]
}

const infoCache = new Map<string, CommandInfo>()

/** `describeMethod`, computed once per method name. */
export const methodInfo = (method: string): CommandInfo => {
  let info = infoCache.get(method)
  if (info === undefined) {
    info = describeMethod(method)
    infoCache.set(method, info)
  }
  return info
}

/** The Redis command name of a node-redis method name (`hGetAll` → `HGETALL`, `sortRo` → `SORT_RO`). */
export const commandName = (method: string): string => methodInfo(method).name

/** Whether a command name (`GET`, `XINFO STREAM`) only reads. */
export const isReadOnlyName = (name: string): boolean => readOnlyCommands.has(name.replace(" ", "|"))

/** What the engine provides to run the commands of `commands` and `sendCommand`. */
export interface CommandRunner<E> {
  /** Runs a call on the shared connection, or (`block` set: milliseconds, `Infinity` for ever) on a blocking one. */
  readonly run: (
    f: (client: RedisClient) => Promise<unknown>,
    options: { readonly command: string; readonly readOnly: boolean },
    block: number | undefined
  ) => Effect.Effect<unknown, E>
  /** Fails with `InvalidRequest` for this reason. */
  readonly refuse: (reason: string) => Effect.Effect<never, E>
}

type Method = (...args: ReadonlyArray<unknown>) => Promise<unknown>

const notServed: ReadonlySet<string> = new Set(["then", "catch", "finally", "constructor", "toJSON", "inspect"])

const memberLocalReason = (command: string) =>
  `${command} keeps state on one member of the database only and would silently vanish after a failover; it is not supported by MultiDbClient`

type CommandFn<E> = (...args: ReadonlyArray<unknown>) => Effect.Effect<unknown, E>

/** One member of a `commands` object (`undefined`: not a member). */
const buildCommand = <E>(
  property: string,
  runner: CommandRunner<E>,
  typeMapping: TypeMapping | undefined
): CommandFn<E> | undefined => {
  const nonData = nonDataMembers.get(property)
  if (nonData !== undefined) {
    const reason = `${property} is not a data command and is not part of MultiDbClient.commands: ${nonData}`
    return () => runner.refuse(reason)
  }
  if (loadedAny ? !Object.hasOwn(loaded.definitions, property) : notServed.has(property)) return undefined
  const info = methodInfo(property)
  const refused = refusal(info)
  if (refused !== undefined) return () => runner.refuse(refused)
  if (memberLocalCommands.has(info.name) || memberLocalCommands.has(info.name.replace(" ", "."))) {
    const reason = memberLocalReason(info.name)
    return () => runner.refuse(reason)
  }
  const options = { command: info.name, readOnly: info.readOnly }
  const sendDirect = directCall(loaded.definitions[property])
  const call =
    (args: ReadonlyArray<unknown>) =>
    (client: RedisClient): Promise<unknown> => {
      const target = typeMapping === undefined ? client : client.withTypeMapping(typeMapping)
      const resp = (client as unknown as DirectClient)[direct]
      if (sendDirect !== undefined && resp !== undefined && !replyChannel.hasSubscribers) {
        const sent = sendDirect(target as unknown as DirectClient, resp, args)
        if (sent !== undefined) return sent
      }
      return (target as unknown as Record<string, Method>)[property]!(...args)
    }
  if (mayBlock(info)) {
    return (...args) => {
      const raw = redisArgs(property, args)
      return runner.run(call(args), options, raw === undefined ? undefined : blockMillis(raw))
    }
  }
  return (...args) => runner.run(call(args), options, undefined)
}

const loadedAny = Object.keys(loaded.definitions).length > 0

/** Where a `commands` object keeps what its members are built from. */
const builtFrom = Symbol("@effect-redis/multidb/commands/builtFrom")

interface BuiltFrom {
  readonly [builtFrom]: { readonly runner: CommandRunner<unknown>; readonly typeMapping: TypeMapping | undefined }
}

/**
 * The prototype of every `commands` object: a getter per member, whose first read builds the member and keeps it on
 * the object itself. Later reads are plain property loads: no Proxy trap on each command.
 */
const commandsPrototype: object = (() => {
  const prototype = Object.create(null) as object
  for (const name of new Set([...Object.keys(loaded.definitions), ...nonDataMembers.keys()])) {
    Object.defineProperty(prototype, name, {
      configurable: true,
      get(this: BuiltFrom) {
        const from = this[builtFrom]
        const member = buildCommand(name, from.runner, from.typeMapping)
        Object.defineProperty(this, name, { value: member, enumerable: true, configurable: true })
        return member
      }
    })
  }
  return prototype
})()

/**
 * The `commands` object: each data command of node-redis as a function returning an `Effect`. Members that are not
 * data commands fail with `InvalidRequest`; anything else (including `then`) is absent, so it is not a thenable.
 * Without node-redis' command definitions, a Proxy serves any method name.
 */
export const makeCommands = <E>(runner: CommandRunner<E>, typeMapping?: TypeMapping): object => {
  if (loadedAny) {
    const commands = Object.create(commandsPrototype) as object
    Object.defineProperty(commands, builtFrom, { value: { runner, typeMapping } })
    return commands
  }
  const cache = new Map<string, CommandFn<E>>()
  return new Proxy(
    {},
    {
      get: (_, property) => {
        if (typeof property !== "string") return undefined
        let fn = cache.get(property)
        if (fn === undefined) {
          fn = buildCommand(property, runner, typeMapping)
          if (fn === undefined) return undefined
          cache.set(property, fn)
        }
        return fn
      },
      has: () => false
    }
  )
}

/** `sendCommand`: refuses connection-state and member-local commands, sends blocking ones on a blocking connection. */
export const makeSendCommand =
  <E>(runner: CommandRunner<E>, typeMapping?: TypeMapping) =>
  (args: ReadonlyArray<string | Buffer>): Effect.Effect<unknown, E> => {
    if (args.length === 0) return runner.refuse("sendCommand needs a command name")
    const info = describeArgs(args)
    const refused = refusal(info)
    if (refused !== undefined) return runner.refuse(refused)
    const first = String(args[0]).toUpperCase()
    if (memberLocalCommands.has(first)) return runner.refuse(memberLocalReason(first))
    const copy = [...args]
    return runner.run(
      typeMapping === undefined
        ? (client) => client.sendCommand(copy)
        : (client) => client.sendCommand(copy, { typeMapping }),
      { command: info.name, readOnly: info.readOnly },
      blockingTimeouts.has(info.key) ? blockMillis(args) : undefined
    )
  }
