// @ts-check
/**
 * Every page of the dashboard. A new page is a module in views/ exporting `show(args)` and one line here:
 * `path` is matched against the URL hash (`:name` segments arrive in `params`, in order), `nav` is the top-bar
 * link it belongs to. The first one is shown for a hash that matches none.
 */
import * as execution from "./views/execution.js";
import * as executions from "./views/executions.js";
import * as workflow from "./views/workflow.js";
import * as workflows from "./views/workflows.js";

/** @type {readonly import("./types.js").View[]} */
export const VIEWS = [
  { path: "workflows", nav: "workflows", show: workflows.show },
  { path: "workflows/:id", nav: "workflows", show: workflow.show },
  { path: "executions", nav: "executions", show: executions.show },
  { path: "executions/:id", nav: "executions", show: execution.show },
];
