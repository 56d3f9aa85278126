import { describe, expect, it } from "@effect/vitest"
import { RedisServer } from "@effect-redis/testkit"
import { Effect } from "effect"
import * as Commands from "../src/internal/commands.js"
import { plainClient } from "./integration.helpers.js"

interface ServerCommand {
  readonly flags: ReadonlyArray<string>
}

/** The server's own table: every command and subcommand (`xinfo|stream`) with its flags. */
const serverCommands = (url: string) =>
  Effect.scoped(
    Effect.flatMap(plainClient(url), (client) =>
      Effect.promise(async () => {
        const table = new Map<string, ServerCommand>()
        const walk = (entry: ReadonlyArray<unknown>) => {
          table.set(String(entry[0]).toUpperCase(), { flags: (entry[2] as ReadonlyArray<unknown>).map(String) })
          for (const sub of (entry[9] as ReadonlyArray<ReadonlyArray<unknown>> | undefined) ?? []) walk(sub)
        }
        for (const entry of (await client.sendCommand(["COMMAND"])) as ReadonlyArray<ReadonlyArray<unknown>>) {
          walk(entry)
        }
        return table
      })
    )
  )

describe("command table", () => {
  it.scopedLive("every member of commands sends the command the server knows, classed as the server classes it", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      const table = yield* serverCommands(server.url)
      const methods = Commands.dataMethods()
      expect(methods.length).toBeGreaterThan(700)
      const wrongName: Array<string> = []
      const wrongClass: Array<string> = []
      let checked = 0
      for (const method of methods) {
        const info = Commands.describeMethod(method)
        const first = info.key.split("|")[0]!
        // commands newer than this server (or from modules) cannot be checked against it
        if (!table.has(first)) continue
        const known = table.get(info.key) ?? table.get(first)
        if (known === undefined) {
          wrongName.push(`${method} → ${info.key}`)
          continue
        }
        checked++
        if (known.flags.includes("write") && info.readOnly) wrongClass.push(`${method} (${info.name}) is a write`)
        if (known.flags.includes("readonly") && !info.readOnly && method.toUpperCase() !== "TOUCH") {
          wrongClass.push(`${method} (${info.name}) only reads`)
        }
      }
      expect(wrongName).toEqual([])
      expect(wrongClass).toEqual([])
      expect(checked).toBeGreaterThan(600)
    })
  )

  it("camelCase methods are named after the command they send", () => {
    expect(Commands.describeMethod("sortRo")).toMatchObject({ name: "SORT_RO", readOnly: true })
    expect(Commands.describeMethod("zRangeWithScores")).toMatchObject({ name: "ZRANGE", readOnly: true })
    expect(Commands.describeMethod("evalRo")).toMatchObject({ name: "EVAL_RO", readOnly: true })
    expect(Commands.describeMethod("xInfoStream")).toMatchObject({ name: "XINFO STREAM", readOnly: true })
    expect(Commands.describeMethod("hGetAll")).toMatchObject({ name: "HGETALL", readOnly: true })
    expect(Commands.describeMethod("set")).toMatchObject({ name: "SET", readOnly: false })
  })

  it("blocking commands carry their block in milliseconds, 0 meaning for ever", () => {
    expect(Commands.blockMillis(["BLPOP", "a", "b", "1.5"])).toBe(1500)
    expect(Commands.blockMillis(["BLPOP", "a", "0"])).toBe(Number.POSITIVE_INFINITY)
    expect(Commands.blockMillis(["BLMOVE", "a", "b", "LEFT", "RIGHT", "2"])).toBe(2000)
    expect(Commands.blockMillis(["BZMPOP", "3", "1", "z", "MIN"])).toBe(3000)
    expect(Commands.blockMillis(["WAIT", "1", "250"])).toBe(250)
    expect(Commands.blockMillis(["XREAD", "COUNT", "1", "BLOCK", "100", "STREAMS", "s", "$"])).toBe(100)
    expect(Commands.blockMillis(["XREAD", "STREAMS", "BLOCK", "0"])).toBeUndefined()
    expect(Commands.blockMillis(["xreadgroup", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">"])).toBe(
      Number.POSITIVE_INFINITY
    )
    expect(Commands.blockMillis(["GET", "k"])).toBeUndefined()
  })
})

describe("the first key of a raw command", () => {
  it.scopedLive("is the key the server itself finds first (COMMAND GETKEYS), for every shape of key position", () =>
    Effect.gen(function* () {
      const server = yield* RedisServer.make()
      const calls: ReadonlyArray<ReadonlyArray<string>> = [
        ["GET", "k"],
        ["SET", "k", "v"],
        ["MGET", "a", "b"],
        ["LMOVE", "a", "b", "LEFT", "RIGHT"],
        ["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"],
        ["BLPOP", "a", "b", "0"],
        ["BLMPOP", "0", "2", "k1", "k2", "LEFT"],
        ["BZMPOP", "1.5", "1", "z", "MIN"],
        ["LMPOP", "1", "l", "LEFT"],
        ["ZMPOP", "2", "z1", "z2", "MAX"],
        ["SINTERCARD", "2", "s1", "s2"],
        ["ZINTERCARD", "1", "z"],
        ["ZDIFF", "2", "a", "b"],
        ["ZINTER", "2", "a", "b"],
        ["ZUNION", "1", "a"],
        ["ZRANGESTORE", "dst", "src", "0", "1"],
        ["EVAL", "return 1", "1", "k"],
        ["EVAL_RO", "return 1", "2", "k1", "k2"],
        ["EVALSHA", "e0e1f9fabfc9d4800c877a703b823ac0578ff831", "1", "k"],
        ["FCALL", "f", "1", "k"],
        ["FCALL_RO", "f", "1", "k", "arg"],
        ["XREAD", "COUNT", "1", "STREAMS", "s", "0"],
        ["XREAD", "COUNT", "1", "BLOCK", "0", "STREAMS", "s1", "s2", "$", "$"],
        ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"],
        ["XINFO", "STREAM", "s"],
        ["XINFO", "GROUPS", "s"],
        ["XINFO", "CONSUMERS", "s", "g"],
        ["XGROUP", "CREATE", "s", "g", "$"],
        ["XGROUP", "SETID", "s", "g", "$"],
        ["XGROUP", "DESTROY", "s", "g"],
        ["XGROUP", "CREATECONSUMER", "s", "g", "c"],
        ["XGROUP", "DELCONSUMER", "s", "g", "c"],
        ["OBJECT", "ENCODING", "k"],
        ["OBJECT", "FREQ", "k"],
        ["OBJECT", "IDLETIME", "k"],
        ["OBJECT", "REFCOUNT", "k"],
        ["MEMORY", "USAGE", "k"],
        ["BITOP", "AND", "dest", "a", "b"],
        ["MIGRATE", "127.0.0.1", "1", "k", "0", "1000"],
        ["MIGRATE", "127.0.0.1", "1", "", "0", "1000", "COPY", "KEYS", "k1", "k2"]
      ]
      const serverFirst = (call: ReadonlyArray<string>) =>
        Effect.scoped(
          Effect.flatMap(plainClient(server.url), (client) =>
            Effect.promise(() =>
              client.sendCommand(["COMMAND", "GETKEYS", ...call]).then(
                (keys) => String((keys as unknown as ReadonlyArray<unknown>)[0]),
                (error: Error) => `server refused: ${error.message}`
              )
            )
          )
        )
      const mismatches: Array<string> = []
      for (const call of calls) {
        const expected = yield* serverFirst(call)
        const actual = Commands.firstKey(call)
        if (String(actual) !== expected) mismatches.push(`${call.join(" ")}: ${String(actual)}, server ${expected}`)
      }
      expect(mismatches).toEqual([])
      // calls that name no key: none is guessed from their other words
      expect(Commands.firstKey(["EVAL", "return 1", "0"])).toBeUndefined()
      expect(Commands.firstKey(["BLMPOP", "0", "0"])).toBeUndefined()
      expect(Commands.firstKey(["XINFO", "HELP"])).toBeUndefined()
      expect(Commands.firstKey(["MEMORY", "STATS"])).toBeUndefined()
    })
  )
})
