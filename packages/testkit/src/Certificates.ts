/**
 * Test certificates generated with the `openssl` CLI: a CA, a server and a client certificate, and the broken
 * variants TLS tests need (expired, wrong host, unknown CA, passphrase-protected key).
 *
 * @since 0.1.0
 */
import * as path from "node:path"
import { Context, Effect, Layer, Ref, type Scope } from "effect"
import * as internal from "./internal/certificates.js"
import { tempDir } from "./internal/system.js"
import type { TestkitError } from "./TestkitError.js"

/**
 * A certificate and its private key, both PEM.
 *
 * @since 0.1.0
 * @category models
 */
export type KeyPair = internal.KeyPair

/**
 * A client certificate whose PEM key is encrypted with `passphrase`.
 *
 * @since 0.1.0
 * @category models
 */
export interface EncryptedKeyPair extends KeyPair {
  readonly passphrase: string
}

/**
 * A server certificate signed by a CA the other certificates do not trust, with that CA's PEM.
 *
 * @since 0.1.0
 * @category models
 */
export interface ForeignKeyPair extends KeyPair {
  readonly ca: string
}

/**
 * Options of `make`: the host names / IP addresses the server certificate covers and its validity in days.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly hosts?: ReadonlyArray<string> | undefined
  readonly days?: number | undefined
}

/**
 * Generated certificates (PEM strings and the files they were written to) plus generators of broken variants.
 *
 * @since 0.1.0
 * @category models
 */
export interface Service {
  /** The temp dir holding the files; removed when the scope closes. */
  readonly dir: string
  /** What the server certificate's subjectAltName covers. */
  readonly hosts: ReadonlyArray<string>
  /** The test CA certificate (PEM): trust it to accept `server` and `client`. */
  readonly ca: string
  /** A server certificate (SAN = `hosts`, serverAuth + clientAuth) signed by the CA. */
  readonly server: KeyPair
  /** A client certificate (clientAuth) signed by the CA. */
  readonly client: KeyPair
  /** Paths of the PEM files, for servers configured with file names. */
  readonly files: {
    readonly ca: string
    readonly serverCert: string
    readonly serverKey: string
    readonly clientCert: string
    readonly clientKey: string
  }
  /** A server certificate for `hosts`, signed by the CA, that expired in 2020. */
  readonly expiredServer: Effect.Effect<KeyPair, TestkitError>
  /** A server certificate signed by the CA whose only name is `wrong-host.invalid`. */
  readonly wrongHostServer: Effect.Effect<KeyPair, TestkitError>
  /** A server certificate for `hosts` signed by a freshly generated CA that nothing trusts. */
  readonly unknownCaServer: Effect.Effect<ForeignKeyPair, TestkitError>
  /** A client certificate signed by the CA whose key is encrypted with `passphrase`. */
  readonly encryptedClient: (passphrase: string) => Effect.Effect<EncryptedKeyPair, TestkitError>
}

/**
 * The service tag of a set of test certificates.
 *
 * @since 0.1.0
 * @category tags
 */
export class Certificates extends Context.Tag("@effect-redis/testkit/Certificates")<Certificates, Service>() {}

/**
 * The default hosts a server certificate covers.
 *
 * @since 0.1.0
 * @category utils
 */
export const defaultHosts: ReadonlyArray<string> = ["127.0.0.1", "localhost"]

/**
 * The name a `wrongHostServer` certificate is issued for.
 *
 * @since 0.1.0
 * @category utils
 */
export const wrongHostName = "wrong-host.invalid"

/**
 * Generates a CA, a server and a client certificate into a temp dir removed when the scope closes.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options = {}): Effect.Effect<Service, TestkitError, Scope.Scope> =>
  Effect.gen(function* () {
    const hosts = options.hosts ?? defaultHosts
    const days = options.days ?? 825
    const dir = yield* tempDir("certs")
    yield* internal.checkOpenssl(dir)
    const ca = yield* internal.makeAuthority(dir, "ca")
    const [server, client] = yield* Effect.all(
      [
        internal.issue(ca, "server", { commonName: "testkit-server", usage: "server", hosts, validity: { days } }),
        internal.issue(ca, "client", { commonName: "testkit-client", usage: "client", hosts: [], validity: { days } })
      ],
      { concurrency: 2 }
    )
    const counter = yield* Ref.make(0)
    const fresh = (name: string) => Ref.updateAndGet(counter, (n) => n + 1).pipe(Effect.map((n) => `${name}-${n}`))
    const service: Service = {
      dir,
      hosts,
      ca: ca.cert,
      server,
      client,
      files: {
        ca: ca.certFile,
        serverCert: path.join(dir, "server.crt"),
        serverKey: path.join(dir, "server.key"),
        clientCert: path.join(dir, "client.crt"),
        clientKey: path.join(dir, "client.key")
      },
      expiredServer: Effect.flatMap(fresh("expired"), (name) =>
        internal.issue(ca, name, {
          commonName: "testkit-expired",
          usage: "server",
          hosts,
          validity: { start: "20200101000000Z", end: "20200102000000Z" }
        })
      ),
      wrongHostServer: Effect.flatMap(fresh("wrong-host"), (name) =>
        internal.issue(ca, name, {
          commonName: wrongHostName,
          usage: "server",
          hosts: [wrongHostName],
          validity: { days }
        })
      ),
      unknownCaServer: Effect.gen(function* () {
        const name = yield* fresh("unknown")
        const foreign = yield* internal.makeAuthority(dir, `${name}-ca`)
        const pair = yield* internal.issue(foreign, name, {
          commonName: "testkit-unknown-ca",
          usage: "server",
          hosts,
          validity: { days }
        })
        return { ...pair, ca: foreign.cert }
      }),
      encryptedClient: (passphrase) =>
        Effect.gen(function* () {
          const name = yield* fresh("encrypted-client")
          const pair = yield* internal.issue(ca, name, {
            commonName: "testkit-client",
            usage: "client",
            hosts: [],
            validity: { days }
          })
          const key = yield* internal.encryptKey(dir, `${name}-encrypted`, pair.key, passphrase)
          return { cert: pair.cert, key, passphrase }
        })
    }
    return service
  })

/**
 * A layer providing `Certificates`, generated when the layer is built and removed when it is released.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<Certificates, TestkitError> =>
  Layer.scoped(Certificates, make(options))
