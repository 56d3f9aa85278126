import { randomBytes } from "node:crypto"
import * as net from "node:net"
import * as path from "node:path"
import { Effect } from "effect"
import { BinaryNotFound, type CommandFailed } from "../TestkitError.js"
import { makeDir, readFile, run, writeFile } from "./system.js"

/** A certificate and its private key, both PEM. */
export interface KeyPair {
  readonly cert: string
  readonly key: string
}

const curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

const openssl = (dir: string, args: ReadonlyArray<string>, env?: NodeJS.ProcessEnv) =>
  run("openssl", args, { cwd: dir, display: `openssl ${args[0]}`, ...(env !== undefined ? { env } : {}) }).pipe(
    Effect.catchTag(
      "CommandFailed",
      (error): Effect.Effect<never, CommandFailed | BinaryNotFound> =>
        error.exitCode === null && String(error.output).includes("ENOENT")
          ? Effect.fail(
              new BinaryNotFound({
                binary: "openssl",
                reason: "the openssl command is not on PATH",
                hint: "Install it with `apt-get install openssl` (Debian/Ubuntu) or `brew install openssl` (macOS)."
              })
            )
          : Effect.fail(error)
    )
  )

/** Fails with `BinaryNotFound` when the `openssl` CLI cannot be run. */
export const checkOpenssl = (dir: string) => openssl(dir, ["version"])

const subjectAltName = (hosts: ReadonlyArray<string>) =>
  hosts.map((host) => (net.isIP(host) !== 0 ? `IP:${host}` : `DNS:${host}`)).join(",")

const extensions = (usage: "server" | "client", hosts: ReadonlyArray<string>) =>
  [
    "basicConstraints=critical,CA:FALSE",
    "keyUsage=critical,digitalSignature",
    `extendedKeyUsage=${usage === "server" ? "serverAuth,clientAuth" : "clientAuth"}`,
    ...(hosts.length > 0 ? [`subjectAltName=${subjectAltName(hosts)}`] : []),
    "subjectKeyIdentifier=hash",
    "authorityKeyIdentifier=keyid"
  ].join("\n")

/** A CA (cert + key files) inside `dir`. */
export interface Authority {
  readonly dir: string
  readonly name: string
  readonly certFile: string
  readonly keyFile: string
  readonly cert: string
}

export const makeAuthority = (dir: string, name: string) =>
  Effect.gen(function* () {
    const certFile = path.join(dir, `${name}.crt`)
    const keyFile = path.join(dir, `${name}.key`)
    yield* openssl(dir, [
      "req",
      "-x509",
      "-new",
      ...curve,
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "3650",
      "-subj",
      `/CN=effect-redis-testkit ${name} ${randomBytes(4).toString("hex")}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign"
    ])
    return { dir, name, certFile, keyFile, cert: yield* readFile(certFile) } satisfies Authority
  })

/** Issues a leaf certificate signed by `ca`; `validity` either a number of days from now or fixed past dates. */
export const issue = (
  ca: Authority,
  name: string,
  options: {
    readonly commonName: string
    readonly usage: "server" | "client"
    readonly hosts: ReadonlyArray<string>
    readonly validity: { readonly days: number } | { readonly start: string; readonly end: string }
  }
) =>
  Effect.gen(function* () {
    const file = (extension: string) => path.join(ca.dir, `${name}.${extension}`)
    yield* writeFile(file("ext"), extensions(options.usage, options.hosts))
    yield* openssl(ca.dir, [
      "req",
      "-new",
      ...curve,
      "-keyout",
      file("key"),
      "-out",
      file("csr"),
      "-subj",
      `/CN=${options.commonName}`
    ])
    if ("days" in options.validity) {
      yield* openssl(ca.dir, [
        "x509",
        "-req",
        "-in",
        file("csr"),
        "-CA",
        ca.certFile,
        "-CAkey",
        ca.keyFile,
        "-set_serial",
        `0x${randomBytes(8).toString("hex")}`,
        "-days",
        String(options.validity.days),
        "-sha256",
        "-extfile",
        file("ext"),
        "-out",
        file("crt")
      ])
    } else {
      const caDir = path.join(ca.dir, `${name}-ca`)
      yield* makeDir(caDir)
      yield* writeFile(path.join(caDir, "index.txt"), "")
      yield* writeFile(
        path.join(caDir, "ca.cnf"),
        [
          "[ ca ]",
          "default_ca = testkit_ca",
          "[ testkit_ca ]",
          `database = ${path.join(caDir, "index.txt")}`,
          `new_certs_dir = ${caDir}`,
          `serial = ${path.join(caDir, "serial")}`,
          "default_md = sha256",
          "policy = testkit_policy",
          "unique_subject = no",
          "copy_extensions = none",
          "[ testkit_policy ]",
          "commonName = supplied"
        ].join("\n")
      )
      yield* openssl(ca.dir, [
        "ca",
        "-batch",
        "-config",
        path.join(caDir, "ca.cnf"),
        "-cert",
        ca.certFile,
        "-keyfile",
        ca.keyFile,
        "-in",
        file("csr"),
        "-out",
        file("crt"),
        "-startdate",
        options.validity.start,
        "-enddate",
        options.validity.end,
        "-extfile",
        file("ext"),
        "-notext",
        "-rand_serial"
      ])
    }
    return { cert: yield* readFile(file("crt")), key: yield* readFile(file("key")) } satisfies KeyPair
  })

/** Encrypts a PEM private key with a passphrase (AES-256, PKCS#8). */
export const encryptKey = (dir: string, name: string, key: string, passphrase: string) =>
  Effect.gen(function* () {
    const plain = path.join(dir, `${name}.plain.key`)
    const encrypted = path.join(dir, `${name}.key`)
    yield* writeFile(plain, key)
    yield* openssl(
      dir,
      ["pkey", "-in", plain, "-aes256", "-passout", "env:TESTKIT_KEY_PASSPHRASE", "-out", encrypted],
      {
        ...process.env,
        TESTKIT_KEY_PASSPHRASE: passphrase
      }
    )
    return yield* readFile(encrypted)
  })
