/** The Upstash Redis store lives in ./upstash-redis/; this module keeps its import path. */
export { type UpstashRedisClient, UpstashRedisStore, type UpstashRedisStoreOptions } from "./upstash-redis/store.ts";
export { redisKeys } from "./upstash-redis/keys.ts";
