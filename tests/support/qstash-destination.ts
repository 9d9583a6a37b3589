/** The app side of qstash-dev tests: a Bun server that records every request and answers 200 "ok" unless a path has its own handler. */

export interface Received {
  path: string;
  url: string;
  method: string;
  headers: Headers;
  body: string;
}

export type Handler = (req: Received, nth: number) => Response | Promise<Response>;

export function startDestination() {
  const received: Received[] = [];
  const handlers = new Map<string, Handler>();
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      const entry = { path: url.pathname, url: req.url, method: req.method, headers: new Headers(req.headers), body: await req.text() };
      received.push(entry);
      const nth = received.filter((r) => r.path === entry.path).length;
      return handlers.get(entry.path)?.(entry, nth) ?? new Response("ok");
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    at: (path: string) => received.filter((r) => r.path === path),
    handle: (path: string, handler: Handler) => handlers.set(path, handler),
    stop: () => server.stop(true),
  };
}

export const signature = (r: Received) => r.headers.get("upstash-signature") ?? "";
