// @ts-check
/**
 * The shapes the dashboard works with. The API's answers come from the zod schemas the routes validate and
 * document with (routes/schemas.ts), so a change there is a type error here; the rest is the page's own state.
 */

/** @template {import("zod").ZodType} S @typedef {import("zod").output<S>} Out */
/** @typedef {typeof import("../../schemas.ts")} Schemas */

/** @typedef {import("../../../src/types.ts").ExecutionStatus} Status */
/** @typedef {Out<Schemas["InputSpec"]>} InputSpec */
/** @typedef {Out<Schemas["WorkflowSummary"]>} WorkflowSummary */
/** @typedef {Out<Schemas["WorkflowDetail"]>} WorkflowDetail */
/** A trigger of a workflow: a cron schedule or an event. @typedef {NonNullable<WorkflowDetail["triggers"]>[number]} Trigger */
/** When a cron trigger fires next. @typedef {WorkflowDetail["nextStarts"][number]} NextStart */
/** @typedef {Out<Schemas["Step"]>} Step */
/** @typedef {Out<Schemas["WorkflowVersion"]>} WorkflowVersion */
/** @typedef {Out<Schemas["WorkflowFlow"]>} WorkflowFlow */
/** @typedef {Out<Schemas["Execution"]>} Execution */
/** @typedef {Out<Schemas["ExecutionSummary"]>} ExecutionSummary */
/** @typedef {Out<Schemas["ExecutionPage"]>} ExecutionPage */
/** @typedef {Out<Schemas["Entry"]>} Entry */
/** @typedef {Out<Schemas["Accepted"]>} Accepted */
/** @typedef {Out<Schemas["Problem"]>} Problem */
/** @typedef {NonNullable<Problem["errors"]>[number]} ProblemError */
/** @typedef {Out<Schemas["ResumeBody"]>} ResumeBody */
/** @typedef {import("zod").input<typeof import("../../bulk.ts").BulkBody>} BulkBody */
/** @typedef {Out<typeof import("../../bulk.ts").BulkAnswer>} BulkAnswer */
/** @typedef {Out<Schemas["EventSent"]>} EventSent */

/**
 * What a halt's data may hold (the halt, approval and wait_for_event steps' keys; `type` is "approval" for an
 * approval, "event" for a wait for an event).
 * @typedef {{ type?: string, prompt?: unknown, reason?: unknown, approvers?: unknown, context?: unknown,
 *   requested_at?: string, halted_at?: string, expires_at?: string, events?: string[], match?: unknown }} HaltData
 */

/** One Server-Sent Events message. @typedef {{ id: string | null, event: string, data: string }} SseMessage */

/**
 * A page of the dashboard: `path` is matched against the URL hash segment by segment (`:name` matches any one
 * segment, handed to `show` in `params`); `nav` is the top-bar link it belongs to.
 * @typedef {{ path: string, nav: string, show: (args: ViewArgs) => Promise<void> }} View
 */
/**
 * What a view is shown with: the `:name` segments, the hash's query, a signal aborted when the user leaves the
 * page, the `<main>` element to fill, and `rerender` to show the page again (its data re-read).
 * @typedef {{ params: string[], query: URLSearchParams, signal: AbortSignal, root: HTMLElement, rerender: () => void }} ViewArgs
 */

/** How an execution is being followed live. @typedef {"streaming" | "reconnecting" | "polling" | null} LiveMode */

/**
 * One execution on screen, followed live while it runs. `running`: the step started and not finished yet;
 * `waitPast`: after an action, keep following until the revision moves past this one (or the time passes);
 * `loops`: the ids of the workflow's loop steps (nested ones included), to number the iterations of their bodies;
 * `*Key`: what a panel was last drawn from (it is redrawn only when that changes); `redraw`: draws every panel.
 * @typedef {{
 *   id: string, signal: AbortSignal,
 *   execution: Execution, entries: Entry[], loops: ReadonlySet<string>,
 *   running: string | null, lastEventId: string | null, following: boolean,
 *   waitPast: { revision: number, until: number } | null, gone: boolean,
 *   haltKey: string | null, actionsKey: string | null, highlightKey: string | null,
 *   refreshTimer: ReturnType<typeof setTimeout> | null, operators: OperatorEvent[],
 *   els: { status: HTMLElement, live: HTMLElement, meta: HTMLElement, operators: HTMLElement, halt: HTMLElement,
 *     actions: HTMLElement, timeline: HTMLElement, data: HTMLElement, diagram: HTMLElement },
 *   redraw: () => void,
 * }} Screen
 */

/** An operator's action read from the event log: what, who (an API token's name), when. @typedef {{ seq: number, what: string, actor: string, timestamp: string }} OperatorEvent */

/** An action's buttons (disabled while it is sent) and where its error goes. @typedef {{ buttons: HTMLButtonElement[], error: HTMLElement }} ActionUi */

export {};
