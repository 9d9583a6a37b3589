// The environment the local stack gives the app: a Bun app with it keeps its connections to one server alive
// however many requests it has in flight (bench/concurrency.ts measures what the reconnects cost).
import { expect, test } from "bun:test";
import { stackEnv } from "durable-workflow-edge-dev/stack";

test("a Bun app with stackEnv's environment sends 600 requests, 200 at a time, over at most 64 connections", async () => {
  const ports = new Set<number>();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request, server) {
      ports.add(server.requestIP(request)!.port);
      return new Response("ok");
    },
  });
  try {
    const url = `http://127.0.0.1:${server.port}/`;
    const script = `for (let i = 0; i < 3; i++) await Promise.all(Array.from({ length: 200 }, () => fetch(${
      JSON.stringify(url)
    }).then((r) => r.text())));`;
    const env = { ...process.env, ...stackEnv("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3") };
    const child = Bun.spawn([process.execPath, "-e", script], { env, stdout: "ignore", stderr: "pipe" });
    expect(await child.exited).toBe(0);
    expect(ports.size).toBeGreaterThan(0);
    expect(ports.size).toBeLessThanOrEqual(64);
  } finally {
    await server.stop(true);
  }
});
