// The SDK's own dev-mode constants (@upstash/qstash 2.12, src/dev-server/constants.ts): public, local use only.
export const DEV_QSTASH_PORT = 8080;
export const DEV_QSTASH_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
export const DEV_CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
export const DEV_NEXT_SIGNING_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";

export const DEFAULT_RETRIES = 3;
