/**
 * @since 0.1.0
 */
export * as Certificates from "./Certificates.js"
/**
 * @since 0.1.0
 */
export * as FaultProxy from "./FaultProxy.js"
/**
 * @since 0.1.0
 */
export * as RedisBinary from "./RedisBinary.js"
/**
 * @since 0.1.0
 */
export * as RedisCluster from "./RedisCluster.js"
/**
 * @since 0.1.0
 */
export * as RedisServer from "./RedisServer.js"
/**
 * @since 0.1.0
 */
export * as RestApiServer from "./RestApiServer.js"
/**
 * @since 0.1.0
 */
export * as TestkitError from "./TestkitError.js"
