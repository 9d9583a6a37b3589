/**
 * Where the signature check of a QStash delivery goes (`POST /qstash`: `Receiver.verify` from @upstash/qstash, what the
 * handler calls for every delivery): a job-sized body signed the way qstash-dev signs it, then, per call, in one run:
 * `Receiver.verify` whole; `jose.jwtVerify` with the key as bytes (what `Receiver` does inside: the HMAC key is
 * imported with WebCrypto on every call); the key import alone; the body's SHA-256 (its other check); and, as a
 * diagnostic only, `jose.jwtVerify` with a key imported once (what a cached key would cost — `Receiver` takes the key
 * as a string and offers no way to hand it one). And the whole route in process (createApp on a MemoryStore, `app.fetch`):
 * a delivery refused for its signature (route, body, the check, the 401), and a delivery for an execution that does
 * not exist (the same, then the job parsed, one store request, the 404): the route hop of bench/async.ts without the
 * network.
 *   npx bun bench/verify.ts            (N=20000 calls per measure)
 */
import { Receiver } from "@upstash/qstash";
import { jwtVerify } from "jose";
import { signDelivery } from "../packages/dev/qstash-dev/signing.ts";
import { createApp } from "../routes/app.ts";
import { MemoryStore } from "../src/store/memory.ts";
import { linearWorkflow, table } from "./workflows.ts";

const N = Number(process.env.N ?? 20_000);
const key = "sig_current_0123456789abcdefghijklmnopqrstuv";
const url = "http://127.0.0.1:8787/qstash";
const workflow = linearWorkflow(1);
const body = JSON.stringify({
  workflowId: workflow.id,
  executionId: crypto.randomUUID(),
  action: "start",
  createdAt: new Date().toISOString(),
});
const signature = await signDelivery(key, url, new TextEncoder().encode(body), Date.now());
const receiver = new Receiver({ currentSigningKey: key, nextSigningKey: "sig_next_unused" });
const bytes = new TextEncoder().encode(key);
const cached = await crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);

/** µs per call of `work`, the median of 5 batches of N/5 calls (after a warm-up batch). */
async function perCall(work: () => Promise<unknown>): Promise<number> {
  const batch = Math.max(1, Math.floor(N / 5));
  const times: number[] = [];
  for (let round = 0; round < 6; round++) {
    const started = performance.now();
    for (let i = 0; i < batch; i++) await work();
    if (round > 0) times.push(((performance.now() - started) * 1000) / batch);
  }
  return times.sort((a, b) => a - b)[2]!;
}

if (!(await receiver.verify({ signature, body, url }))) throw new Error("the signature does not verify");
const app = createApp({
  store: new MemoryStore(),
  workflows: [workflow],
  services: { work: (input: unknown) => input },
  adapter: { enqueue: () => Promise.resolve() },
  qstash: { currentSigningKey: key, nextSigningKey: "sig_next_unused", callbackUrl: url },
  logger: { debug() {}, info() {}, warn() {}, error() {} },
});
/** One delivery through the app; `expected` its status. */
const deliver = (sig: string, expected: number) => async () => {
  const response = await app.fetch(new Request(url, { method: "POST", body, headers: { "upstash-signature": sig } }));
  if (response.status !== expected) throw new Error(`POST /qstash answered ${response.status}, not ${expected}`);
  await response.arrayBuffer();
};
const measures = [
  ["Receiver.verify (what POST /qstash calls)", () => receiver.verify({ signature, body, url })],
  ["jose.jwtVerify, key as bytes (inside Receiver: imports the key)", () => jwtVerify(signature, bytes, { issuer: "Upstash" })],
  [
    "crypto.subtle.importKey (HMAC) alone",
    () => crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]),
  ],
  ["SHA-256 of the body (Receiver's body check)", () => crypto.subtle.digest("SHA-256", new TextEncoder().encode(body))],
  ["diagnostic: jose.jwtVerify, key imported once", () => jwtVerify(signature, cached, { issuer: "Upstash" })],
  ["POST /qstash in process, a bad signature: route, body, check, 401", deliver(`${signature.slice(0, -2)}xx`, 401)],
  ["POST /qstash in process, an unknown execution: + job, 1 store request, 404", deliver(signature, 404)],
] as const;
const rows: Record<string, string>[] = [];
const whole = await perCall(measures[0][1]);
for (const [name, work] of measures) {
  const us = work === measures[0][1] ? whole : await perCall(work);
  rows.push({ measure: name, "µs/call": us.toFixed(1), "of Receiver.verify": `${((us / whole) * 100).toFixed(0)}%` });
}
console.log(`Signature check of one delivery, µs per call (median of 5 batches of ${Math.floor(N / 5)}; ${navigator.userAgent})\n`);
console.log(table(rows));
