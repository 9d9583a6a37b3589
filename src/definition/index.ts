/** The definition layer: parse → validate → normalise a workflow, and the rules for run inputs. */
export { loadWorkflow, validateWorkflow, type LoadOptions, type WorkflowSource } from "./load.ts";
export { applyInputRules } from "./inputs.ts";
export { buildWorkflowJsonSchema, workflowJsonSchema } from "./schema.ts";
export { canonicalJson, contentHash } from "./hash.ts";
export { sha256, sha256Hex } from "./sha256.ts";
export { MAX_ALIAS_COUNT, MAX_DEPTH, MAX_DOCUMENT_BYTES } from "./source.ts";
export { MAX_STEPS } from "./steps.ts";
export { INPUT_TYPES, type InputSpec, type InputType, type WorkflowDefinition } from "./workflow.ts";
