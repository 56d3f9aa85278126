import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  ErrorReply,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  WatchError
} from "redis"
import type { Classification } from "../ErrorClassifier.js"

/** A command got no reply within the command timeout (it may still run on the server). */
export class CommandTimeoutError extends Error {
  constructor(readonly timeoutMillis: number) {
    super(`no reply within the command timeout (${timeoutMillis} ms)`)
  }
}

/** A call given up while waiting for its reply, because the client moved away from its database. */
export class CommandAbandonedError extends Error {
  constructor(readonly database: string) {
    super(`the client moved away from "${database}" while the command waited for its reply`)
  }
}

/**
 * A command's connection was replaced because another command on it missed its deadline. `written` tells whether
 * this command had been written to the socket (it may have run) or was still waiting to be written (it never ran).
 */
export class ConnectionReplacedError extends Error {
  constructor(readonly written: boolean) {
    super(
      written
        ? "the connection was replaced after a command on it missed its deadline (this command had been sent)"
        : "the connection was replaced after a command on it missed its deadline (this command was not sent)"
    )
  }
}

/**
 * A cluster client's map of the cluster has no node for the command's slot (see `clusterHealth.unmappedSlots`): the
 * command was not sent. The health check replaces such a client, which discovers the cluster again.
 */
export class SlotMapIncompleteError extends Error {
  override readonly name = "SlotMapIncompleteError"
  constructor(unmapped: string, options?: { readonly cause?: unknown }) {
    super(`the cluster client's map of the cluster has no node for ${unmapped}`, options)
  }
}

/** A command could not be sent at all (e.g. no connection for it was free in time): it never ran. */
export class NotSentError extends Error {}

const unavailableReplies = ["LOADING", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "READONLY", "BUSY"]

const neverSentCodes = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"])
const brokenCodes = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "ERR_SOCKET_CLOSED"])

/** Errors whose constructor name marks them as failures, when several copies of node-redis are loaded. */
const byName: Record<string, Classification> = {
  ClientOfflineError: { _tag: "Unavailable", mayHaveExecuted: false, reason: "the client is offline" },
  ClientClosedError: { _tag: "Unavailable", mayHaveExecuted: false, reason: "the client is closed" },
  ConnectionTimeoutError: { _tag: "Unavailable", mayHaveExecuted: false, reason: "connection timeout" },
  SocketClosedUnexpectedlyError: { _tag: "Unavailable", mayHaveExecuted: true, reason: "socket closed unexpectedly" },
  DisconnectsClientError: { _tag: "Unavailable", mayHaveExecuted: true, reason: "the client disconnected" },
  SocketTimeoutError: { _tag: "Unavailable", mayHaveExecuted: true, reason: "socket timeout" },
  TimeoutError: { _tag: "Unavailable", mayHaveExecuted: true, reason: "command timeout" },
  InMemoryTimeout: { _tag: "Unavailable", mayHaveExecuted: true, reason: "command timeout" },
  RootNodesUnavailableError: { _tag: "Unavailable", mayHaveExecuted: false, reason: "no root node is reachable" },
  ReconnectStrategyError: { _tag: "Unavailable", mayHaveExecuted: false, reason: "reconnect strategy gave up" },
  MaxCommandRedirectionsError: { _tag: "Unavailable", mayHaveExecuted: true, reason: "too many cluster redirections" },
  AbortError: { _tag: "Unavailable", mayHaveExecuted: true, reason: "the command was aborted" },
  InMemoryUnavailable: { _tag: "Unavailable", mayHaveExecuted: false, reason: "connection refused" }
}

const replyNames = new Set(["ErrorReply", "SimpleError", "BlobError", "MultiErrorReply"])

const messageOf = (error: unknown): string =>
  error instanceof Error ? error.message || error.constructor.name : String(error)

export const classify = (error: unknown): Classification => {
  if (error instanceof WatchError) return { _tag: "WatchConflict" }
  if (error instanceof CommandAbandonedError)
    return { _tag: "Unavailable", mayHaveExecuted: true, reason: error.message }
  if (error instanceof CommandTimeoutError) return { _tag: "Unavailable", mayHaveExecuted: true, reason: error.message }
  if (error instanceof SlotMapIncompleteError) {
    return { _tag: "Unavailable", mayHaveExecuted: false, reason: error.message }
  }
  if (error instanceof NotSentError) return { _tag: "Unavailable", mayHaveExecuted: false, reason: error.message }
  if (error instanceof ConnectionReplacedError) {
    return { _tag: "Unavailable", mayHaveExecuted: error.written, reason: error.message }
  }
  if (error instanceof ErrorReply) {
    const reply = error.message
    const code = reply.split(" ", 1)[0] ?? ""
    if (unavailableReplies.includes(code) || /max(imum)? number of clients/i.test(reply)) {
      return { _tag: "Unavailable", mayHaveExecuted: false, reason: reply }
    }
    return { _tag: "Reply", reply }
  }
  if (error instanceof ClientOfflineError || error instanceof ClientClosedError) {
    return { _tag: "Unavailable", mayHaveExecuted: false, reason: messageOf(error) }
  }
  if (error instanceof ConnectionTimeoutError) {
    return { _tag: "Unavailable", mayHaveExecuted: false, reason: "connection timeout" }
  }
  if (error instanceof TimeoutError) return { _tag: "Unavailable", mayHaveExecuted: true, reason: "command timeout" }
  if (error instanceof SocketClosedUnexpectedlyError || error instanceof SocketTimeoutError) {
    return { _tag: "Unavailable", mayHaveExecuted: true, reason: messageOf(error) }
  }
  if (typeof error === "object" && error !== null) {
    const code = (error as { code?: unknown }).code
    if (typeof code === "string") {
      if (neverSentCodes.has(code)) return { _tag: "Unavailable", mayHaveExecuted: false, reason: messageOf(error) }
      if (brokenCodes.has(code)) return { _tag: "Unavailable", mayHaveExecuted: true, reason: messageOf(error) }
    }
    const named = byName[(error as { constructor?: { name?: string } }).constructor?.name ?? ""]
    if (named !== undefined) return named
    const tagged = byName[(error as { _tag?: string })._tag ?? ""]
    if (tagged !== undefined) return tagged
    const name = (error as { name?: unknown }).name
    if (typeof name === "string" && replyNames.has(name)) return { _tag: "Reply", reply: messageOf(error) }
    // a system error (socket, TLS, DNS) not listed above: the database may be at fault
    if (typeof code === "string" && /^(E[A-Z]+|ERR_[A-Z_]+)$/.test(code)) {
      return { _tag: "Unavailable", mayHaveExecuted: true, reason: messageOf(error) }
    }
  }
  // neither a reply nor a client or system error: thrown by the caller's own code
  return { _tag: "UserError" }
}
