// What importing the main entry costs: it must load neither undici nor @effect/platform.
import "@effect-redis/multidb"
