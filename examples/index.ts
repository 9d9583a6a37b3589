import { loadWorkflow, type Services, type WorkflowDefinition } from "../mod.ts";
import batchPricing from "./batch-pricing/workflow.yaml" with { type: "text" };
import { createCatalogServices } from "./batch-pricing/services.ts";
import profileFanOut from "./fan-out/workflow.yaml" with { type: "text" };
import { createProfileServices } from "./fan-out/services.ts";
import greeting from "./greeting/workflow.yaml" with { type: "text" };
import orderFulfillment from "./order-fulfillment/workflow.yaml" with { type: "text" };
import { createOrderServices } from "./order-fulfillment/services.ts";

/** The YAML text of every example, by workflow id. */
export const exampleSources = {
  order_fulfillment: orderFulfillment,
  greeting,
  batch_pricing: batchPricing,
  customer_profile: profileFanOut,
} as const;

/** Every example workflow, loaded, and one set of services that serves them all (for the dev server). */
export function loadExamples(): { workflows: WorkflowDefinition[]; services: Services } {
  const workflows = Object.values(exampleSources).map((source) => loadWorkflow(source));
  const services: Services = {
    ...createOrderServices().services,
    ...createCatalogServices().services,
    ...createProfileServices(),
  };
  return { workflows, services };
}
