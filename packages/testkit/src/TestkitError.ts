/**
 * Errors of the testkit: every constructor fails with one of these tagged errors.
 *
 * @since 0.1.0
 */
import { Data } from "effect"

/**
 * A required executable (`redis-server`, `openssl`, ...) could not be found or installed.
 *
 * @since 0.1.0
 * @category errors
 */
export class BinaryNotFound extends Data.TaggedError("BinaryNotFound")<{
  readonly binary: string
  readonly reason: string
  readonly hint: string
}> {
  override get message() {
    return `${this.binary} not available: ${this.reason}. ${this.hint}`
  }
}

/**
 * An external command (`openssl`, `apt-get`, ...) could not be run or exited with a non-zero status.
 *
 * @since 0.1.0
 * @category errors
 */
export class CommandFailed extends Data.TaggedError("CommandFailed")<{
  readonly command: string
  readonly exitCode: number | null
  readonly output: string
  readonly cause?: unknown
}> {
  override get message() {
    const status = this.exitCode === null ? "could not be run" : `exited with status ${this.exitCode}`
    return `Command \`${this.command}\` ${status}${this.output.length > 0 ? `:\n${this.output}` : ""}`
  }
}

/**
 * A file-system operation (temp dir, config file, certificate file) failed.
 *
 * @since 0.1.0
 * @category errors
 */
export class FileSystemError extends Data.TaggedError("FileSystemError")<{
  readonly operation: string
  readonly path: string
  readonly cause: unknown
}> {
  override get message() {
    return `File system operation ${this.operation} failed on ${this.path}: ${String(this.cause)}`
  }
}

/**
 * No TCP port could be bound on the given host (a fixed port in use, or no free port after retries).
 *
 * @since 0.1.0
 * @category errors
 */
export class PortUnavailable extends Data.TaggedError("PortUnavailable")<{
  readonly host: string
  readonly port: number
  readonly cause: unknown
}> {
  override get message() {
    return `Cannot listen on ${this.host}:${this.port === 0 ? "<free port>" : this.port}: ${String(this.cause)}`
  }
}

/**
 * A `redis-server` process did not start, exited during start-up, or did not answer PING in time.
 *
 * @since 0.1.0
 * @category errors
 */
export class ServerStartFailed extends Data.TaggedError("ServerStartFailed")<{
  readonly host: string
  readonly port: number
  readonly reason: string
  readonly logTail: string
}> {
  override get message() {
    return `redis-server on ${this.host}:${this.port} failed to start: ${this.reason}\n--- last log lines ---\n${this.logTail}`
  }
}

/**
 * A command sent to a test server by the testkit itself failed (connection error or error reply).
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisCommandFailed extends Data.TaggedError("RedisCommandFailed")<{
  readonly host: string
  readonly port: number
  readonly command: string
  readonly reason: string
}> {
  override get message() {
    return `${this.command} on ${this.host}:${this.port} failed: ${this.reason}`
  }
}

/**
 * A Redis Cluster did not reach `cluster_state:ok` on every node in time.
 *
 * @since 0.1.0
 * @category errors
 */
export class ClusterNotReady extends Data.TaggedError("ClusterNotReady")<{
  readonly ports: ReadonlyArray<number>
  readonly timeoutMillis: number
  readonly lastInfo: string
}> {
  override get message() {
    return `Redis Cluster on ports ${this.ports.join(", ")} did not reach cluster_state:ok within ${this.timeoutMillis} ms; last CLUSTER INFO:\n${this.lastInfo}`
  }
}

/**
 * Any error of the testkit.
 *
 * @since 0.1.0
 * @category models
 */
export type TestkitError =
  | BinaryNotFound
  | CommandFailed
  | FileSystemError
  | PortUnavailable
  | ServerStartFailed
  | RedisCommandFailed
  | ClusterNotReady
