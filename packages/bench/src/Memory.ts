/**
 * Memory: heap growth of one failure detector over millions of recorded outcomes, and of a client with 50 in-memory
 * databases over a simulated hour of health checks (`TestClock`).
 */
import { FailureDetector, InMemoryConnection, MultiDbClient, RedisConnection } from "@effect-redis/multidb"
import { Duration, Effect, Fiber, Stream, TestClock, TestContext } from "effect"
import { heapUsedAfterGc } from "./Gc.js"
import { slope } from "./Stats.js"

export interface DetectorOptions {
  readonly outcomes: number
  /** Heap samples taken at this many evenly spaced points. */
  readonly samples: number
}

export interface HeapSample {
  /** Outcomes recorded, or simulated minutes elapsed. */
  readonly at: number
  readonly heapUsedBytes: number
}

export interface DetectorResult {
  readonly outcomes: number
  readonly failures: number
  readonly trips: number
  readonly seconds: number
  readonly heapBeforeBytes: number
  readonly heapAfterBytes: number
  readonly growthBytes: number
  /** Trend of the heap after the first sample (least squares), bytes per million outcomes. */
  readonly slopeBytesPerMillion: number
  readonly samples: ReadonlyArray<HeapSample>
}

/**
 * Outcome number `i`: 5 % failures, plus one burst of 50 % failures in every million, so the detector trips (and
 * resets) now and then.
 */
const isFailure = (i: number) => i % 20 === 0 || (i % 1_000_000 < 20_000 && i % 2 === 0)

/** Records `outcomes` mixed outcomes in one detector (real clock, default window and thresholds). */
export const detector = (options: DetectorOptions) =>
  Effect.gen(function* () {
    const detector = yield* FailureDetector.make({
      window: "2 seconds",
      minNumFailures: 1000,
      failureRateThreshold: 0.1
    })
    const batch = 100_000
    const every = Math.max(batch, Math.floor(options.outcomes / options.samples / batch) * batch)
    let failures = 0
    let trips = 0
    const samples: Array<HeapSample> = []
    const heapBeforeBytes = heapUsedAfterGc()
    samples.push({ at: 0, heapUsedBytes: heapBeforeBytes })
    const started = performance.now()
    for (let done = 0; done < options.outcomes; done += batch) {
      const end = Math.min(options.outcomes, done + batch)
      yield* Effect.gen(function* () {
        for (let i = done; i < end; i++) {
          const failure = isFailure(i)
          if (failure) failures++
          if (yield* detector.record(failure ? "failure" : "success")) trips++
        }
      })
      if (end % every === 0 || end === options.outcomes) {
        samples.push({ at: end, heapUsedBytes: heapUsedAfterGc() })
      }
    }
    const seconds = (performance.now() - started) / 1000
    const heapAfterBytes = heapUsedAfterGc()
    const result: DetectorResult = {
      outcomes: options.outcomes,
      failures,
      trips,
      seconds,
      heapBeforeBytes,
      heapAfterBytes,
      growthBytes: heapAfterBytes - heapBeforeBytes,
      slopeBytesPerMillion: slope(samples.slice(1).map((s) => [s.at / 1e6, s.heapUsedBytes] as const)),
      samples
    }
    return result
  })

export interface HealthOptions {
  readonly databases: number
  /** Probes per health check; each pause between probes is one more TestClock wake-up per database and round. */
  readonly probes: number
  /** The preferred database goes down and comes back every this long (failover and fail-back each time). */
  readonly flapEvery: Duration.DurationInput
  /** This many databases (after the preferred one) stay down the whole time: their circuits keep cycling. */
  readonly downDatabases: number
  readonly simulated: Duration.DurationInput
  /** TestClock step. */
  readonly step: Duration.DurationInput
  /** Simulated time before the baseline heap sample (lets start-up garbage and caches settle). */
  readonly warmup: Duration.DurationInput
  /** Simulated time between heap samples. */
  readonly sampleEvery: Duration.DurationInput
  /** Called after each heap sample, with the simulated minute (e.g. to write a heap snapshot while investigating). */
  readonly onSample?: (minute: number) => void
}

export interface HealthResult {
  readonly databases: number
  readonly probes: number
  readonly downDatabases: number
  /** Switches of the active database during the simulated time. */
  readonly switches: number
  readonly simulatedMinutes: number
  readonly pings: number
  readonly seconds: number
  readonly heapBaselineBytes: number
  readonly heapAfterBytes: number
  readonly growthBytes: number
  /** Trend of the heap samples (least squares), bytes per simulated minute. */
  readonly slopeBytesPerMinute: number
  readonly samples: ReadonlyArray<HeapSample>
}

/** A client over `databases` in-memory databases, its health checks driven by the TestClock for `simulated`. */
export const healthChecks = (options: HealthOptions): Effect.Effect<HealthResult, Error> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { connector, registry } = yield* InMemoryConnection.make
      const ids = Array.from({ length: options.databases }, (_, i) => `db${i}`)
      const fiber = yield* MultiDbClient.fromInput({
        databases: [
          { id: ids[0]!, url: `redis://${ids[0]}:6379`, weight: options.databases },
          ...ids.slice(1).map((id, i) => ({ id, url: `redis://${id}:6379`, weight: options.databases - 1 - i }))
        ],
        healthCheckProbes: options.probes
      }).pipe(Effect.provideService(RedisConnection.RedisConnector, connector), Effect.forkScoped)
      for (let i = 0; i < 1000 && fiber.unsafePoll() === null; i++) {
        yield* TestClock.adjust("50 millis")
        yield* Effect.yieldNow()
      }
      const client = yield* Fiber.join(fiber)
      for (const id of ids.slice(1, 1 + options.downDatabases)) yield* registry.database(id).setBehaviour("down")
      let switches = 0
      yield* client.activeChanges.pipe(
        Stream.runForEach(() =>
          Effect.sync(() => {
            switches++
          })
        ),
        Effect.forkScoped
      )
      const flapMillis = Duration.toMillis(Duration.decode(options.flapEvery))
      const preferred = registry.database(ids[0]!)
      let preferredUp = true

      const stepMillis = Duration.toMillis(Duration.decode(options.step))
      let elapsed = 0
      const advance = (millis: number) =>
        Effect.gen(function* () {
          for (let t = 0; t < millis; t += stepMillis) {
            const step = Math.min(stepMillis, millis - t)
            yield* TestClock.adjust(step)
            yield* Effect.yieldNow()
            elapsed += step
            if ((Math.floor(elapsed / flapMillis) % 2 === 1) === preferredUp) {
              preferredUp = !preferredUp
              yield* preferred.setBehaviour(preferredUp ? "up" : "down")
            }
          }
        })
      const pings = Effect.map(
        Effect.forEach(ids, (id) => registry.database(id).pings),
        (counts) => counts.reduce((a, b) => a + b, 0)
      )

      const started = performance.now()
      const warmupMillis = Duration.toMillis(Duration.decode(options.warmup))
      yield* advance(warmupMillis)
      const heapBaselineBytes = heapUsedAfterGc()
      const samples: Array<HeapSample> = [{ at: warmupMillis / 60_000, heapUsedBytes: heapBaselineBytes }]
      const totalMillis = Duration.toMillis(Duration.decode(options.simulated))
      const everyMillis = Duration.toMillis(Duration.decode(options.sampleEvery))
      for (let t = warmupMillis; t < totalMillis; ) {
        const next = Math.min(totalMillis, t + everyMillis)
        yield* advance(next - t)
        t = next
        samples.push({ at: t / 60_000, heapUsedBytes: heapUsedAfterGc() })
        options.onSample?.(t / 60_000)
      }
      const heapAfterBytes = samples.at(-1)!.heapUsedBytes
      // The client is still in use here, so it cannot have been collected before the last sample.
      const active = yield* client.activeDatabase
      if (active._tag !== "Some") return yield* Effect.dieMessage("no active database after the simulated hour")
      const result: HealthResult = {
        databases: options.databases,
        probes: options.probes,
        downDatabases: options.downDatabases,
        switches,
        simulatedMinutes: totalMillis / 60_000,
        pings: yield* pings,
        seconds: (performance.now() - started) / 1000,
        heapBaselineBytes,
        heapAfterBytes,
        growthBytes: heapAfterBytes - heapBaselineBytes,
        slopeBytesPerMinute: slope(samples.map((s) => [s.at, s.heapUsedBytes] as const)),
        samples
      }
      return result
    })
  ).pipe(Effect.provide(TestContext.TestContext))
