/**
 * Compile-time proof that the client's written-out types (routes/client.ts) are the route schemas' own: a type
 * that drifts from its schema fails `tsc --noEmit`. Kept out of the client's module graph (and so out of the JSR
 * package's public API and of dist/client.js): nothing imports this file.
 */
import type { z } from "@hono/zod-openapi";
import type * as client from "./client.ts";
import type { BulkAnswer, BulkBody } from "./bulk.ts";
import type * as schemas from "./schemas.ts";
import { same } from "../src/schemas.ts";

same<z.output<typeof schemas.Accepted>, client.Accepted>(true);
same<z.output<typeof schemas.Entry>, client.Entry>(true);
same<z.output<typeof schemas.EventSent>, client.EventSent>(true);
same<z.output<typeof schemas.Execution>, client.Execution>(true);
same<z.output<typeof schemas.ExecutionPage>, client.ExecutionPage>(true);
same<z.output<typeof schemas.ExecutionResult>, client.ExecutionResult>(true);
same<z.output<typeof schemas.ExecutionSummary>, client.ExecutionSummary>(true);
same<z.output<typeof schemas.HaltInfo>, client.HaltInfo>(true);
same<z.output<typeof schemas.InputSpec>, client.InputSpec>(true);
same<z.output<typeof schemas.ListQuery>, client.ListFilters>(true);
same<z.output<typeof schemas.Problem>, client.Problem>(true);
same<z.output<typeof schemas.Step>, client.Step>(true);
same<z.output<typeof schemas.WorkflowDetail>, client.WorkflowDetail>(true);
same<z.output<typeof schemas.WorkflowEvent>, client.WorkflowEvent>(true);
same<z.output<typeof schemas.WorkflowSummary>, client.WorkflowSummary>(true);
same<z.output<typeof schemas.WorkflowFlow>, client.WorkflowFlow>(true);
same<z.output<typeof schemas.FlowKeyState>, client.FlowKeyState>(true);
same<Omit<z.input<typeof schemas.RunBody>, "mode">, client.StartOptions>(true);
same<Omit<z.input<typeof schemas.ResumeBody>, "mode">, client.ResumeAnswer>(true);
same<z.input<typeof schemas.CancelBody>, client.CancelOptions>(true);
same<Omit<z.input<typeof schemas.SendEventBody>, "payload">, client.SendEventOptions>(true);
same<z.input<typeof BulkBody>, client.BulkRequest>(true);
same<z.output<typeof BulkAnswer>, client.BulkAnswer>(true);
