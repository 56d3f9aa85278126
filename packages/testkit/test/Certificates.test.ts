import { createPrivateKey, X509Certificate } from "node:crypto"
import * as fs from "node:fs"
import * as tls from "node:tls"
import { describe, expect, it } from "@effect/vitest"
import { Certificates } from "@effect-redis/testkit"
import { Effect } from "effect"

/** Runs one TLS handshake against a throw-away server; returns "ok" or the client's error code. */
const handshake = (
  server: tls.TlsOptions,
  client: tls.ConnectionOptions & { readonly host: string }
): Effect.Effect<string> =>
  Effect.acquireUseRelease(
    Effect.async<tls.Server>((resume) => {
      const listener = tls.createServer(server, (socket) => socket.end())
      listener.on("tlsClientError", () => {})
      listener.listen(0, "127.0.0.1", () => resume(Effect.succeed(listener)))
    }),
    (listener) =>
      Effect.async<string>((resume) => {
        const port = (listener.address() as { port: number }).port
        const socket = tls.connect({ ...client, port }, () => {
          socket.destroy()
          resume(Effect.succeed("ok"))
        })
        socket.on("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code ?? error.message)))
      }),
    (listener) => Effect.sync(() => listener.close())
  )

describe("Certificates", () => {
  it.scopedLive("issues a server certificate for the hosts and a client certificate, both signed by the CA", () =>
    Effect.gen(function* () {
      const certs = yield* Certificates.make()
      const ca = new X509Certificate(certs.ca)
      const server = new X509Certificate(certs.server.cert)
      const client = new X509Certificate(certs.client.cert)
      expect(ca.ca).toBe(true)
      expect(server.verify(ca.publicKey)).toBe(true)
      expect(client.verify(ca.publicKey)).toBe(true)
      expect(server.checkIP("127.0.0.1")).toBe("127.0.0.1")
      expect(server.checkHost("localhost")).toBe("localhost")
      expect(fs.readFileSync(certs.files.serverCert, "utf8")).toBe(certs.server.cert)
      const result = yield* handshake(
        { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
        { host: "127.0.0.1", ca: certs.ca, ...certs.client }
      )
      expect(result).toBe("ok")
      expect(yield* handshake(certs.server, { host: "localhost", ca: certs.ca })).toBe("ok")
    })
  )

  it.scopedLive("covers custom hosts", () =>
    Effect.gen(function* () {
      const certs = yield* Certificates.make({ hosts: ["::1", "redis.test"] })
      const server = new X509Certificate(certs.server.cert)
      expect(server.checkHost("redis.test")).toBe("redis.test")
      expect(server.checkIP("127.0.0.1")).toBeUndefined()
    })
  )

  it.scopedLive("generates an expired server certificate", () =>
    Effect.gen(function* () {
      const certs = yield* Certificates.make()
      const expired = yield* certs.expiredServer
      expect(new Date(new X509Certificate(expired.cert).validTo).getTime()).toBeLessThan(Date.now())
      expect(yield* handshake(expired, { host: "127.0.0.1", ca: certs.ca })).toBe("CERT_HAS_EXPIRED")
    })
  )

  it.scopedLive("generates a certificate for the wrong host name", () =>
    Effect.gen(function* () {
      const certs = yield* Certificates.make()
      const wrong = yield* certs.wrongHostServer
      expect(new X509Certificate(wrong.cert).checkHost(Certificates.wrongHostName)).toBe(Certificates.wrongHostName)
      expect(yield* handshake(wrong, { host: "127.0.0.1", ca: certs.ca })).toBe("ERR_TLS_CERT_ALTNAME_INVALID")
    })
  )

  it.scopedLive("generates a certificate signed by an unknown CA", () =>
    Effect.gen(function* () {
      const certs = yield* Certificates.make()
      const foreign = yield* certs.unknownCaServer
      expect(foreign.ca).not.toBe(certs.ca)
      const server = { cert: foreign.cert, key: foreign.key }
      expect(yield* handshake(server, { host: "127.0.0.1", ca: certs.ca })).toBe("UNABLE_TO_VERIFY_LEAF_SIGNATURE")
      expect(yield* handshake(server, { host: "127.0.0.1", ca: foreign.ca })).toBe("ok")
    })
  )

  it.scopedLive("generates a client key encrypted with a passphrase", () =>
    Effect.gen(function* () {
      const certs = yield* Certificates.make()
      const client = yield* certs.encryptedClient("correct horse")
      expect(client.key).toContain("ENCRYPTED PRIVATE KEY")
      expect(() => createPrivateKey({ key: client.key, passphrase: "wrong" })).toThrow()
      expect(createPrivateKey({ key: client.key, passphrase: client.passphrase }).asymmetricKeyType).toBe("ec")
      const result = yield* handshake(
        { ...certs.server, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
        { host: "127.0.0.1", ca: certs.ca, ...client }
      )
      expect(result).toBe("ok")
    })
  )

  it.live("removes its files when the scope closes", () =>
    Effect.gen(function* () {
      const dir = yield* Effect.scoped(Effect.map(Certificates.make(), (certs) => certs.dir))
      expect(fs.existsSync(dir)).toBe(false)
    })
  )
})
