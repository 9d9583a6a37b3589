/**
 * "durable-workflow-edge/testing": run a workflow in your own tests with fake services and a fake clock.
 *
 *   const { result, calls } = await testWorkflow(workflow, {
 *     input: { order_id: "A-1" },
 *     services: { PaymentService: { charge: { id: "PAY-1" } } },   // a canned value, or a function
 *     answers: [{ approved: true }],                                 // for halts and approvals, in order
 *   });
 *
 * Web-standard only. Retries and short waits take no real time (the clock moves itself); a long `wait` step
 * is continued by moving the clock to its wake time.
 */
import type { WorkflowLookup } from "./config.ts";
import type { WorkflowDefinition } from "./definition/workflow.ts";
import { ManualClock } from "./engine/clock.ts";
import type { EngineLimits } from "./engine/engine.ts";
import { type HaltAnswer, SyncRunner } from "./runners/sync.ts";
import type { StepRegistry } from "./steps/registry.ts";
import { MemoryStore } from "./store/memory.ts";
import type { Entry, Execution, ExecutionResult, HaltInfo, Json, ServiceContext, ServiceMethod, Services, StoredEvent } from "./types.ts";

export { ManualClock } from "./engine/clock.ts";

/** A fake service method: a function (it may throw, or look at `context.attempt`), or the value to return. */
export type FakeMethod = ServiceMethod | Json;
/**
 * `{ PaymentService: { charge: fn | value } }` for calls with a method, `{ notify: fn | value }` for calls
 * without one (a plain object given to a service the workflow calls without a method is the value it returns).
 */
export type FakeServices = Record<string, FakeMethod | Record<string, FakeMethod>>;

/** One attempt of one service call, in the order they happened (child workflows' calls included). */
export interface ServiceCall {
  service: string;
  /** null for a call without a method. */
  method: string | null;
  input: unknown;
  attempt: number;
  stepId: string;
  executionId: string;
}

/** What a halt or an approval is answered with: a list used in order, or a function of the halt. */
export type Answers =
  | HaltAnswer[]
  | ((
    halt: HaltInfo,
    test: { result: ExecutionResult; clock: ManualClock; calls: readonly ServiceCall[] },
  ) => HaltAnswer | Promise<HaltAnswer>);

export interface TestWorkflowOptions {
  input?: unknown;
  services?: FakeServices;
  answers?: Answers;
  /** Where the clock starts (default 2026-01-01T00:00:00Z). */
  start?: Date | string | number;
  /** A clock of your own instead of `start` (it should auto-advance, or retries wait for you to move it). */
  clock?: ManualClock;
  /** Default `test-1`; further ids (entries, children) are `test-2`, `test-3`, … */
  executionId?: string;
  /** Move the clock over long `wait` steps and go on (default true); false returns the pending result. */
  advanceWaits?: boolean;
  /** Child workflows of `workflow` steps, and custom step types. */
  workflows?: WorkflowLookup;
  registry?: StepRegistry;
  limits?: EngineLimits;
}

export interface WorkflowTest {
  /** The last result: completed, failed, or halted when the answers ran out. */
  result: ExecutionResult;
  /** Every service call attempt, in order. */
  calls: ServiceCall[];
  /** The execution's history, one entry per step executed. */
  entries: Entry[];
  /** The execution's events, as stored. */
  events: StoredEvent[];
  execution: Execution;
  clock: ManualClock;
  store: MemoryStore;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fakeMethod(fake: unknown, service: string, method: string | null, calls: ServiceCall[]): ServiceMethod {
  return (input: unknown, context: ServiceContext) => {
    calls.push({ service, method, input, attempt: context.attempt, stepId: context.stepId, executionId: context.executionId });
    return typeof fake === "function" ? fake(input, context) : structuredClone(fake);
  };
}

/** Services that some call step of the workflow (at any depth) calls without a method. */
function methodlessServices(value: unknown, found = new Set<string>()): Set<string> {
  if (Array.isArray(value)) { for (const item of value) methodlessServices(item, found); }
  else if (isPlainObject(value)) {
    if (value.type === "call" && typeof value.service === "string" && value.method === undefined) found.add(value.service);
    for (const item of Object.values(value)) methodlessServices(item, found);
  }
  return found;
}

/**
 * Real services from fake ones, each recording its calls into `calls`. A plain object is a map of methods,
 * unless `workflow` calls that service without a method: then it is the value to return.
 */
export function fakeServices(services: FakeServices, calls: ServiceCall[], workflow?: WorkflowDefinition): Services {
  const methodless = methodlessServices(workflow?.steps);
  const real: Services = {};
  for (const [service, fake] of Object.entries(services)) {
    if (!isPlainObject(fake) || methodless.has(service)) {
      real[service] = fakeMethod(fake, service, null, calls);
      continue;
    }
    real[service] = Object.fromEntries(Object.entries(fake).map(([method, value]) => [method, fakeMethod(value, service, method, calls)]));
  }
  return real;
}

function answerer(answers: Answers | undefined, clock: ManualClock, calls: ServiceCall[]) {
  let next = 0;
  return async (halt: HaltInfo, result: ExecutionResult): Promise<HaltAnswer | undefined> => {
    if (typeof answers === "function") return await answers(halt, { result, clock, calls });
    return answers?.[next++];
  };
}

/** Runs `workflow` to its end with a MemoryStore, fake services and a ManualClock, answering halts as told. */
export async function testWorkflow(workflow: WorkflowDefinition, options: TestWorkflowOptions = {}): Promise<WorkflowTest> {
  const clock = options.clock ?? new ManualClock(options.start, { autoAdvance: true });
  const store = new MemoryStore();
  const calls: ServiceCall[] = [];
  let id = 0;
  const runner = new SyncRunner(workflow, {
    store,
    clock,
    services: fakeServices(options.services ?? {}, calls, workflow),
    ids: () => `test-${++id}`,
    workflows: options.workflows,
    registry: options.registry,
    limits: options.limits,
  });
  const answer = answerer(options.answers, clock, calls);
  let result = await runner.run(options.input ?? {}, options.executionId ? { executionId: options.executionId } : {});
  for (;;) {
    if (result.status === "halted") {
      const given = await answer(result.halt!, result);
      if (!given) break;
      result = await runner.resume(result.executionId, given);
    } else if (result.status === "pending" && result.notBefore && options.advanceWaits !== false) {
      await clock.advance(Math.max(0, Date.parse(result.notBefore) - clock.now().getTime()));
      result = await runner.continue(result.executionId);
    } else {
      break;
    }
  }
  const execution = (await store.load(result.executionId))!;
  return {
    result,
    calls,
    entries: await store.entries(result.executionId),
    events: await store.events(result.executionId),
    execution,
    clock,
    store,
  };
}
