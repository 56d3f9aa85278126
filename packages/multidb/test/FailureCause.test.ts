import { describe, expect, it } from "@effect/vitest"
import { ErrorReply } from "redis"
import { FailureCause } from "../src/index.js"

const nodeError = (message: string, code: string) => Object.assign(new Error(message), { code })

describe("FailureCause", () => {
  it("names bad credentials from the server's reply", () => {
    const cause = FailureCause.fromError(
      new ErrorReply("WRONGPASS invalid username-password pair or user is disabled.")
    )
    expect(cause.kind).toBe("auth")
    expect(cause.message).toContain("WRONGPASS")
    expect(FailureCause.fromError(new ErrorReply("NOAUTH Authentication required.")).kind).toBe("auth")
  })

  it("finds a DNS, refused or TLS error inside a wrapping error's cause chain", () => {
    const wrapped = (inner: Error) => new Error("The client is offline", { cause: inner })
    const dns = FailureCause.fromError(wrapped(nodeError("getaddrinfo ENOTFOUND nowhere.invalid", "ENOTFOUND")))
    expect(dns.kind).toBe("dns")
    expect(dns.message).toContain("ENOTFOUND nowhere.invalid")
    expect(FailureCause.fromError(wrapped(nodeError("connect ECONNREFUSED 127.0.0.1:1", "ECONNREFUSED"))).kind).toBe(
      "refused"
    )
    const tls = FailureCause.fromError(wrapped(nodeError("self-signed certificate", "DEPTH_ZERO_SELF_SIGNED_CERT")))
    expect(tls.kind).toBe("tls")
    expect(tls.message).toContain("DEPTH_ZERO_SELF_SIGNED_CERT")
  })

  it("tells timeouts, resets and other error replies apart", () => {
    expect(FailureCause.fromError(nodeError("connect ETIMEDOUT", "ETIMEDOUT")).kind).toBe("timeout")
    expect(FailureCause.fromError(nodeError("read ECONNRESET", "ECONNRESET")).kind).toBe("connection")
    expect(FailureCause.fromError(new ErrorReply("ERR DB index is out of range")).kind).toBe("reply")
    expect(FailureCause.fromError(new ErrorReply("LOADING Redis is loading the dataset in memory")).kind).toBe("reply")
  })

  it("masks the credentials of URLs in messages", () => {
    const cause = FailureCause.fromError(new Error("cannot reach redis://admin:s3cr3t@east:6379/0"))
    expect(cause.message).not.toContain("s3cr3t")
    expect(cause.message).toContain("redis://admin:***@east:6379/0")
    expect(FailureCause.mask("rediss://:onlypass@h:1")).toBe("rediss://:***@h:1")
  })

  it("masks a password that contains an @ up to the last @ before the host", () => {
    expect(FailureCause.mask("redis://app:p@ss@east:6379 and redis://:x@y@west:1")).toBe(
      "redis://app:***@east:6379 and redis://:***@west:1"
    )
  })

  it("falls back to the given kind when nothing is recognised", () => {
    expect(FailureCause.fromError("something odd", "unhealthy").kind).toBe("unhealthy")
  })
})
