/** Redis commands that never change data: safe to retry wherever they may have run. */
export const readOnlyCommands: ReadonlySet<string> = new Set([
  "BITCOUNT", "BITFIELD_RO", "BITPOS", "DBSIZE", "DUMP", "ECHO", "EVALSHA_RO", "EVAL_RO", "EXISTS", "EXPIRETIME",
  "FCALL_RO", "GEODIST", "GEOHASH", "GEOPOS", "GEORADIUSBYMEMBER_RO", "GEORADIUS_RO", "GEOSEARCH", "GET", "GETBIT",
  "GETRANGE", "HEXISTS", "HGET", "HGETALL", "HKEYS", "HLEN", "HMGET", "HRANDFIELD", "HSCAN", "HSTRLEN", "HVALS",
  "HTTL", "HPTTL", "HEXPIRETIME", "HPEXPIRETIME", "KEYS", "LCS", "LINDEX", "LLEN", "LPOS", "LRANGE", "MGET",
  "OBJECT", "PEXPIRETIME", "PFCOUNT", "PING", "PTTL", "RANDOMKEY", "SCAN", "SCARD", "SDIFF", "SINTER", "SINTERCARD",
  "SISMEMBER", "SMEMBERS", "SMISMEMBER", "SORT_RO", "SRANDMEMBER", "SSCAN", "STRLEN", "SUBSTR", "SUNION", "TIME",
  "TOUCH", "TTL", "TYPE", "XINFO", "XLEN", "XPENDING", "XRANGE", "XREAD", "XREVRANGE", "ZCARD", "ZCOUNT", "ZDIFF",
  "ZINTER", "ZINTERCARD", "ZLEXCOUNT", "ZMSCORE", "ZRANDMEMBER", "ZRANGE", "ZRANGEBYLEX", "ZRANGEBYSCORE", "ZRANK",
  "ZREVRANGE", "ZREVRANGEBYLEX", "ZREVRANGEBYSCORE", "ZREVRANK", "ZSCAN", "ZSCORE", "ZUNION", "JSON.GET",
  "JSON.MGET", "JSON.TYPE", "JSON.STRLEN", "JSON.OBJKEYS", "JSON.OBJLEN", "JSON.ARRLEN", "JSON.ARRINDEX",
  "FT.SEARCH", "FT.AGGREGATE", "FT.INFO", "TS.GET", "TS.MGET", "TS.RANGE", "TS.REVRANGE", "TS.MRANGE",
  "TS.MREVRANGE", "TS.INFO", "BF.EXISTS", "BF.MEXISTS", "CF.EXISTS", "CF.MEXISTS", "CF.COUNT"
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

/** The Redis command name of a node-redis method name (`hGetAll` → `HGETALL`). */
export const commandName = (method: string): string => method.toUpperCase()
