/** Flow control against the Redis store (a real redis-server through the Upstash REST bridge): the same contract as the MemoryStore. */
import { afterAll, beforeAll } from "bun:test";
import { UpstashRedisStore } from "../../../src/store/upstash-redis.ts";
import { flowContract } from "../../support/flow-contract.ts";
import { redisServerAvailable, type RedisStack, startRedisStack } from "../../support/redis.ts";

let stack: RedisStack;
beforeAll(async () => {
  if (redisServerAvailable()) stack = await startRedisStack();
});
afterAll(async () => {
  await stack?.stop();
});

let prefixes = 0;
flowContract(
  "UpstashRedisStore",
  (clock) => new UpstashRedisStore({ redis: stack.redis, prefix: `flow${++prefixes}`, clock: () => clock.now() }),
);
