import type { OpenAPIHono } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { eventNameSchema } from "../src/expressions/events.ts";
import { sendEvent } from "../src/runners/send-event.ts";
import { actorOf, logAction } from "./auth.ts";
import type { AppEnv } from "./context.ts";
import { api, json, route } from "./route.ts";
import { EventSent, SendEventBody } from "./schemas.ts";

const EventParams = z.object({
  name: eventNameSchema.describe("Event name, e.g. `payment.received`"),
});

const postEvent = route({
  method: "post",
  path: "/events/{name}",
  operationId: "sendEvent",
  tags: ["events"],
  summary: "Send an event: every run waiting for it whose match holds receives it once; `event` triggers start runs",
  request: { params: EventParams, body: { content: { "application/json": { schema: SendEventBody } } } },
  responses: { 202: json(EventSent, "Sent: the waiting runs were handed the event (an inline queue may have run them already)") },
}, { store: true });

/** POST /events/:name (docs/events.md). */
export function eventSendRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();
  routes.openapi(postEvent, async (c) => {
    const app = c.get("app");
    const { name } = c.req.valid("param");
    const { payload, id } = c.req.valid("json");
    const actor = actorOf(c);
    const sent = await sendEvent(name, payload ?? null, {
      ...(id === undefined ? {} : { id }),
      ...(actor ? { actor } : {}),
      store: app.store,
      adapter: app.adapter,
      workflows: await app.listWorkflows(),
      ...(app.runnerOptions.clock ? { clock: app.runnerOptions.clock } : {}),
      ...(app.options.events?.lookbackSeconds !== undefined ? { lookbackSeconds: app.options.events.lookbackSeconds } : {}),
    });
    for (const refused of sent.refused) app.log.warn("event trigger refused", { event: name, eventId: sent.id, ...refused });
    logAction(c, "send event", {
      event: name,
      eventId: sent.id,
      delivered: sent.delivered,
      duplicate: sent.duplicate,
      started: sent.started,
    });
    return c.json({ id: sent.id, delivered: sent.delivered, duplicate: sent.duplicate, started: sent.started }, 202);
  });
  return routes;
}
