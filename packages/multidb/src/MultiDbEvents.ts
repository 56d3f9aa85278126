/**
 * The event bus of a `MultiDbClient`, as a service, so listeners can subscribe before the client starts.
 *
 * @since 0.1.0
 */
import { Context, type Effect, Layer, PubSub } from "effect"
import type { MultiDbEvent } from "./MultiDbEvent.js"

/**
 * The PubSub every `MultiDbEvent` is published on. It slides (drops the oldest event for a subscriber that is more
 * than `capacity` events behind), so a slow subscriber never delays failover.
 *
 * @since 0.1.0
 * @category tags
 */
export class MultiDbEvents extends Context.Tag("@effect-redis/multidb/MultiDbEvents")<
  MultiDbEvents,
  PubSub.PubSub<MultiDbEvent>
>() {}

/**
 * Creates the event bus; `capacity` is how many unread events each subscriber may fall behind (default 4096).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (capacity = 4096): Effect.Effect<PubSub.PubSub<MultiDbEvent>> =>
  PubSub.sliding<MultiDbEvent>(capacity)

/**
 * A layer holding a fresh event bus. Provide it (with `Layer.provideMerge`) under `MultiDbClient.layer` to subscribe
 * before the client starts.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<MultiDbEvents> = Layer.effect(MultiDbEvents, make())
