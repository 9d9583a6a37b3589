/** The Upstash Redis store lives in ./upstash-redis/; this module keeps its import path. */
export {
  DEFAULT_RETENTION_SECONDS,
  type UpstashRedisClient,
  UpstashRedisStore,
  type UpstashRedisStoreOptions,
} from "./upstash-redis/store.ts";
export { KEY_LAYOUT, type RedisKeys, redisKeys } from "./upstash-redis/keys.ts";
