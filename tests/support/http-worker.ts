/**
 * A Worker whose only workflow calls `API_URL` (a binding) with an `http` step sending `$secrets.TOKEN`
 * (DW_SECRET_TOKEN): bundled by tests/e2e/deploy.worker-http.test.ts and run in workerd.
 */
import { appOptionsFromEnv } from "../../config-from-env.ts";
import { createApp } from "../../routes/app.ts";
import { loadWorkflow } from "../../src/definition/load.ts";

const app = createApp((env) =>
  appOptionsFromEnv(env, {
    workflows: [loadWorkflow({
      id: "call_api",
      name: "Call API",
      steps: [
        { id: "start", type: "start", next: "me" },
        {
          id: "me",
          type: "http",
          url: `${env.API_URL}/me`,
          headers: { Authorization: "Bearer $secrets.TOKEN" },
          retries: 1,
          retry_delay: 0,
          output: "me",
          next: "finish",
        },
        { id: "finish", type: "end", result: "$me" },
      ],
    })],
    log: () => {},
  })
);

export default { fetch: (request: Request, env: Record<string, unknown>) => app.fetch(request, env) };
