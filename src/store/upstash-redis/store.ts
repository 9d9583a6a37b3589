/**
 * Upstash Redis store (@upstash/redis, HTTP). The key layout is in keys.ts, the scripts in scripts.ts and the
 * whole picture (stored form, compaction, recovery queues, retention) in docs/redis-keys.md.
 *
 * Every call is one HTTP request (one Lua script, EVALSHA; the first call after a SCRIPT FLUSH falls back to
 * EVAL), but for two cases: a commit that sends a delta for a record without a snapshot (one stored by an
 * older version that this client has not loaded) is refused by the script and sent again as a snapshot; a
 * checkpoint sent to CHECKPOINT that would change a shared key after all (another writer moved its queue row) is
 * refused and sent again to COMMIT.
 */
import type { Redis } from "@upstash/redis";
import { ConfigError, DurableWorkflowError, NotFoundError, StoreError, ValidationError } from "../../errors.ts";
import {
  type Entry,
  type Execution,
  type ExecutionDelta,
  type ExecutionHead,
  type ExecutionStatus,
  isTerminal,
  type StoredEvent,
} from "../../types.ts";
import { bodyOf, checkCommit, compactionDue, foldExecution, headOf, serialize, upgradeHead, utf8Length } from "../format.ts";
import { recoveryOf, sweepBounds } from "../recovery.ts";
import {
  assertDefinition,
  assertDefinitionHash,
  assertExecutionId,
  assertLease,
  type Claimed,
  claimedAs,
  type ClaimRequest,
  type Commit,
  type CommitResult,
  conflictError,
  createdAtScore,
  CurrentVersionChangedError,
  decodeCursor,
  type DefinitionVersion,
  definitionVersion,
  encodeCursor,
  type EventDelivery,
  type FindFilters,
  findFilters,
  findLimit,
  type FindQuery,
  type FindResult,
  type Lease,
  liveLease,
  MAX_EVENTS_PER_EXECUTION,
  type Recoverable,
  type RecoverableQuery,
  renewRefused,
  type SendEventOptions,
  type SendEventResult,
  type Store,
  type StoredDefinition,
  type StoreFootprint,
} from "../store.ts";
import { assertSentEvent, type SentEvent, UNINDEXED } from "../../expressions/events.ts";
import { type RedisKeys, redisKeys } from "./keys.ts";
import type { FlowAcquire, FlowAdmission, FlowKeyState, FlowRelease, FlowStore } from "../flow.ts";
import * as flowLua from "./flow-scripts.ts";
import * as lua from "./scripts.ts";
import { QUEUE_SLACK_MS, StoredSizesCache } from "./sizes.ts";

/** What the store needs of a client: `Redis` from "@upstash/redis" or "@upstash/redis/cloudflare". */
export type UpstashRedisClient = Pick<Redis, "createScript" | "lrange">;

export interface UpstashRedisStoreOptions {
  redis: UpstashRedisClient;
  /** First segment of every key: letters, digits, `_ - .` (no `:`, so prefixes cannot overlap). Default "dw". */
  prefix?: string;
  /** Seconds a completed, failed or cancelled execution is kept (default 30 days). */
  retention?: number;
  /** Time source for expiry bookkeeping (tests inject one). */
  clock?: () => Date;
  /**
   * Declare `#!lua flags=allow-key-locking` on the scripts that pass every key they touch in KEYS (checkpoints,
   * loads, entries, events), so Upstash runs those of different executions in parallel instead of under its global
   * script lock. Default false: redis-server (7.x) refuses the flag, and finding that out costs a request per store.
   * When true and the server refuses it, the store notices on the first such call and sends the scripts without it
   * from then on, so one configuration serves Upstash and a local redis-server behind the bridge.
   */
  keyLocking?: boolean;
}

/**
 * The scripts sent with `allow-key-locking`, and their shebang's flags: each takes every key it touches in KEYS (no key
 * built from the prefix). `no-writes` marks the readers, which Upstash then runs under shared read locks.
 */
export const KEY_LOCKED = {
  CHECKPOINT: "allow-key-locking",
  RECORD: "allow-key-locking",
  LOAD: "no-writes,allow-key-locking",
  FOOTPRINT: "no-writes,allow-key-locking",
  EVENTS: "no-writes,allow-key-locking",
} as const;
type KeyLockedName = keyof typeof KEY_LOCKED;

/** A registered waiter is kept this long past its timeout (then its index rows expire with it). */
const WAITER_GRACE_MS = 24 * 60 * 60 * 1000;

const DEFAULT_RETENTION_SECONDS = 30 * 24 * 60 * 60;
const PREFIX_PATTERN = /^[A-Za-z0-9_\-.]{1,64}$/;

type Script = ReturnType<UpstashRedisClient["createScript"]>;
type ScriptName = keyof typeof lua | keyof typeof flowLua;

/** What a commit left in the shared keys (indexes, recovery queue name; its score apart): a checkpoint that keeps it needs none of them. */
function sharedState(status: string, workflowId: string, hash: string, score: number, queue: string): string {
  return `${status}\n${workflowId}\n${hash}\n${score}\n${queue}`;
}

export class UpstashRedisStore implements Store, FlowStore {
  readonly #prefix: string;
  readonly #keys: RedisKeys;
  readonly #retentionMs: number;
  readonly #clock: () => Date;
  readonly #redis: UpstashRedisClient;
  readonly #scripts: Record<ScriptName, Script>;
  /** The KEY_LOCKED scripts with the key-locking shebang, while the server accepts it. */
  readonly #locked: Record<KeyLockedName, Script>;
  #keyLocking: boolean;
  /** What this client last learned of each execution's stored form, to choose delta or snapshot. */
  readonly #sizes = new StoredSizesCache();

  constructor(options: UpstashRedisStoreOptions) {
    const { redis, prefix = "dw", retention = DEFAULT_RETENTION_SECONDS, clock = () => new Date(), keyLocking = false } = options ?? {};
    if (!redis || typeof redis.createScript !== "function") {
      throw new ConfigError("UpstashRedisStore needs { redis }: a Redis client from @upstash/redis");
    }
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new ConfigError(`Invalid prefix ${JSON.stringify(prefix)}: use 1 to 64 letters, digits, _ - . (no ":")`);
    }
    if (!Number.isFinite(retention) || retention <= 0) {
      throw new ConfigError(`Invalid retention ${retention}: a positive number of seconds`);
    }
    this.#redis = redis;
    this.#prefix = prefix;
    this.#keys = redisKeys(prefix);
    this.#retentionMs = Math.max(1, Math.round(retention * 1000));
    this.#clock = clock;
    this.#scripts = Object.fromEntries(
      Object.entries({ ...lua, ...flowLua }).map(([name, source]) => [name, redis.createScript(source)]),
    ) as Record<
      ScriptName,
      Script
    >;
    this.#locked = Object.fromEntries(
      Object.entries(KEY_LOCKED).map(([name, flags]) => [name, redis.createScript(`#!lua flags=${flags}\n${lua[name as KeyLockedName]}`)]),
    ) as Record<
      KeyLockedName,
      Script
    >;
    this.#keyLocking = keyLocking;
  }

  async commit(commit: Commit): Promise<CommitResult> {
    const score = checkCommit(commit);
    const { execution, expectedRevision, delta } = commit;
    const id = execution.id;
    const what = `Execution ${JSON.stringify(id)}`;
    const recovery = recoveryOf(execution);
    // The script keeps the revision: the head is stored without it.
    const headText = serialize(headOf(execution, "revision"), what);
    const deltaText = delta && expectedRevision !== 0 ? serialize(delta, `The delta of ${what}`) : undefined;
    const entries = (commit.entries ?? []).map((entry) => serialize(entry, "An entry"));
    const events = (commit.events ?? []).map((event) => serialize(event, "An event"));
    const definition = commit.definition;
    if (definition) assertDefinition(definition);
    const definitionArgs = definition ? [definition.hash, definition.workflowId, serialize(definition, "A definition")] : ["", "", ""];
    const snapshot = () => ["snapshot", serialize(bodyOf(execution), what)];
    const known = this.#sizes.get(id);
    const sizesApply = known && (expectedRevision === undefined || known.revision === expectedRevision);
    const body = deltaText === undefined ||
        (sizesApply && compactionDue(known.snapshotBytes, known.logBytes + utf8Length(deltaText)))
      ? snapshot()
      : ["delta", deltaText];
    const now = this.#clock().getTime();
    // Labels never change: sent only with a commit that may create the record.
    const labels = expectedRevision === undefined || expectedRevision === 0 ? Object.entries(execution.labels ?? {}) : [];
    const labelArgs = [String(labels.length), ...labels.flat()];

    const wait = commit.wait && execution.status === "halted"
      ? [
        commit.wait.waitId,
        commit.wait.key,
        commit.wait.events.join(" "),
        commit.wait.match ? JSON.stringify(commit.wait.match) : "",
        String(Date.parse(execution.updatedAt)),
        execution.updatedAt,
        execution.wakeAt ? String(Math.max(0, Date.parse(execution.wakeAt) - Date.parse(execution.updatedAt)) + WAITER_GRACE_MS) : "",
      ]
      : undefined;
    const shared = sharedState(execution.status, execution.workflowId, execution.workflowHash, score, recovery?.queue ?? "");
    // The common checkpoint (nothing shared changes, as far as this client's last commit tells) goes to CHECKPOINT,
    // which touches only the execution's own keys (so under key locking it runs beside other executions'); when the
    // server finds a shared key to write after all, it refuses and the commit is sent again to COMMIT.
    const checkpoint = !wait && !definition && commit.currentHash === undefined && !isTerminal(execution.status) &&
      expectedRevision !== undefined &&
      known?.revision === expectedRevision && known.shared === shared &&
      (!recovery || (known.queueScore! <= recovery.score && recovery.score <= known.queueScore! + QUEUE_SLACK_MS));
    const k = this.#keys;
    const send = async ([mode, text]: string[]) => {
      const args = [
        id,
        expectedRevision === undefined ? "" : String(expectedRevision),
        execution.status,
        execution.workflowId,
        execution.workflowHash,
        String(score),
        String(now),
        String(this.#retentionMs),
        String(now + this.#retentionMs),
        String(MAX_EVENTS_PER_EXECUTION),
        headText,
        mode!,
        text!,
        recovery?.queue ?? "",
        String(recovery?.score ?? ""),
        recovery?.dueAt ?? "",
        ...definitionArgs,
        String(entries.length),
        execution.status === "running" && commit.leaseMs ? String(commit.leaseMs) : "",
        commit.takeover ? "1" : "",
        commit.currentHash ?? "",
        ...labelArgs,
        ...entries,
        ...events,
      ];
      if (checkpoint) {
        const raw = await this.#keyed("commit", "CHECKPOINT", [k.execution(id), k.log(id), k.entries(id), k.events(id)], args);
        if (!Array.isArray(raw) || raw[0] !== 4) return raw;
      }
      return wait
        ? this.#run("commit", () => this.#scripts.COMMIT_AND_WAIT.exec(wait, [this.#prefix, ...args]))
        : this.#exec("commit", "COMMIT", args);
    };
    let raw = await send(body);
    let reply = numbers(Array.isArray(raw) ? raw.slice(0, 5) : raw, "commit");
    if (reply[0] === 2) reply = numbers(Array.isArray(raw = await send(snapshot())) ? raw.slice(0, 5) : raw, "commit");
    if (reply[0] === 3) throw liveLease(id, reply[2]!);
    if (reply[0] === 5) throw new CurrentVersionChangedError(execution.workflowId, commit.currentHash!);
    if (reply[0] !== 1) {
      this.#sizes.delete(id);
      throw conflictError(id, expectedRevision ?? 0, reply[1]!);
    }
    const [, revision, snapshotBytes, logBytes, queueScore] = reply as [number, number, number, number, number];
    this.#sizes.set(id, { revision, snapshotBytes, logBytes, shared, queueScore });
    const [kind, ...bodies] = (raw as unknown[]).slice(5);
    if (kind === "#event") return { revision, event: parseStored<SentEvent>(bodies[0], "an event") };
    if (kind === "#wait" && commit.wait?.key === UNINDEXED) {
      return { revision, candidates: bodies.map((b) => parseStored<SentEvent>(b, "an event")) };
    }
    return { revision };
  }

  async renew(id: string, lease: Lease): Promise<void> {
    assertLease(id, lease);
    const reply = await this.#exec("renew a lease", "RENEW", [
      id,
      String(lease.revision),
      lease.leaseUntil,
      String(Date.parse(lease.leaseUntil)),
      String(lease.leaseMs),
    ]);
    if (Array.isArray(reply) && reply[0] === 1) return;
    if (!Array.isArray(reply) || typeof reply[1] !== "number") {
      throw new StoreError(`Redis store: unexpected renew reply ${JSON.stringify(reply)}`);
    }
    throw renewRefused(id, lease.revision, reply[1], unwrap(reply[2]) || undefined);
  }

  async save(execution: Execution, options: { expectedRevision?: number } = {}): Promise<Execution> {
    const { revision } = await this.commit({ execution, expectedRevision: options.expectedRevision });
    return { ...JSON.parse(serialize(execution, `Execution ${JSON.stringify(execution.id)}`)), revision };
  }

  async load(id: string): Promise<Execution | null> {
    assertExecutionId(id);
    return this.#loaded(id, await this.#keyed("load", "LOAD", [this.#keys.execution(id), this.#keys.log(id)], []));
  }

  async claim(id: string, request: ClaimRequest): Promise<Claimed | null> {
    assertExecutionId(id);
    const leaseScore = Date.parse(request.leaseUntil);
    if (!Number.isFinite(leaseScore) || !Number.isFinite(Date.parse(request.at)) || !(request.leaseMs > 0)) {
      throw new ValidationError(`Invalid claim of execution ${JSON.stringify(id)}: at, leaseUntil (ISO-8601) and leaseMs > 0`);
    }
    const reply = await this.#exec("claim", "CLAIM", [
      id,
      request.workflowHash,
      request.at,
      request.leaseUntil,
      String(leaseScore),
      String(request.leaseMs),
    ]);
    if (!Array.isArray(reply) || reply.length === 0) return null;
    const execution = this.#loaded(id, reply.slice(1))!;
    const revision = Number(reply[0]);
    if (!revision) return { execution };
    const claimed = claimedAs(execution, request, revision);
    const known = this.#sizes.get(id)!;
    // What the claim left in the shared keys: the next checkpoint needs none of them (CHECKPOINT, key-locked).
    this.#sizes.set(id, {
      ...known,
      revision,
      shared: sharedState("running", claimed.workflowId, claimed.workflowHash, createdAtScore(claimed), "lease"),
      queueScore: leaseScore,
    });
    return { execution, revision };
  }

  /** An execution from LOAD's reply (CLAIM's, after its first item). */
  #loaded(id: string, reply: unknown): Execution | null {
    if (!Array.isArray(reply) || reply.length === 0) return null;
    const what = `execution ${id}`;
    if (reply[0] === "#old") {
      const execution = upgradeHead(parseStored<Execution>(reply[1], what));
      // No snapshot to append to: the next commit writes one.
      this.#sizes.set(id, { revision: execution.revision, snapshotBytes: 0, logBytes: 0 });
      return execution;
    }
    const [, snapshotBytes, logBytes, head, snapshot, ...log] = reply as [string, number, number, ...unknown[]];
    const stored = parseStored<ExecutionHead>(head, what);
    this.#sizes.set(id, { revision: stored.revision, snapshotBytes, logBytes });
    return foldExecution(stored, parseStored(snapshot, what), log.map((delta) => parseStored<ExecutionDelta>(delta, `a delta of ${id}`)));
  }

  /** How the execution's body is stored now, or null when it does not exist (or has no snapshot yet). */
  async footprint(id: string): Promise<StoreFootprint | null> {
    assertExecutionId(id);
    const reply = await this.#keyed("read the footprint", "FOOTPRINT", [this.#keys.execution(id), this.#keys.log(id)], []);
    if (!Array.isArray(reply) || reply.length !== 3) return null;
    const [snapshotBytes, logBytes, deltas] = reply as number[];
    return { snapshotBytes: snapshotBytes!, logBytes: logBytes!, deltas: deltas! };
  }

  async record(entry: Entry): Promise<void> {
    assertExecutionId(entry?.executionId);
    const id = entry.executionId;
    const reply = await this.#keyed("record", "RECORD", [this.#keys.execution(id), this.#keys.entries(id)], [serialize(entry, "An entry")]);
    if (reply !== 1) throw new NotFoundError(`Execution ${JSON.stringify(id)} not found: cannot record an entry`);
  }

  async entries(executionId: string): Promise<Entry[]> {
    assertExecutionId(executionId);
    const raw = await this.#run("read entries", () => this.#redis.lrange<unknown>(this.#keys.entries(executionId), 0, -1));
    return raw.map((item) => parseStored<Entry>(item, `an entry of ${executionId}`));
  }

  async events(executionId: string, options: { after?: number } = {}): Promise<StoredEvent[]> {
    assertExecutionId(executionId);
    const after = options.after ?? 0;
    // seq > after is seq > floor(after); an `after` that is not a safe integer (NaN, ±Infinity, 1e300) reads
    // the whole list and leaves it to the filter below, which keeps the same answer in every case.
    const from = Math.floor(after);
    const reply = await this.#keyed("read events", "EVENTS", [this.#keys.events(executionId)], [
      Number.isSafeInteger(from) ? String(from) : "",
    ]);
    if (!Array.isArray(reply)) throw new StoreError(`Redis store: unexpected events reply ${JSON.stringify(reply)}`);
    return (reply as unknown[]).map((item) => parseStored<StoredEvent>(item, `an event of ${executionId}`)).filter((event) =>
      event.seq > after
    );
  }

  async find(query: FindQuery = {}): Promise<FindResult> {
    const filters = findFilters(query);
    const limit = findLimit(query.limit);
    const page = await this.#page("find", { ...query, limit, mode: "heads" }, filters);
    // A record stored by an older version comes back whole: its head is cut out of it.
    const executions = page.items.map((item) => headOf(upgradeHead(parseStored<Execution>(item, "a found execution"))));
    return page.cursor ? { executions, cursor: page.cursor } : { executions };
  }

  async delete(id: string): Promise<boolean> {
    assertExecutionId(id);
    this.#sizes.delete(id);
    return (await this.#exec("delete", "DELETE", [id])) === 1;
  }

  async executionIds(query: { workflowId?: string; limit?: number } = {}): Promise<string[]> {
    const limit = query.limit === undefined ? Number.MAX_SAFE_INTEGER : findLimit(query.limit);
    const page = await this.#page("list execution ids", { workflowId: query.workflowId, limit, mode: "ids" });
    return page.items.map((item) => unwrap(item));
  }

  async recoverable(query: RecoverableQuery): Promise<Recoverable[]> {
    const { due, claimMs, limit } = sweepBounds(query);
    const reply = await this.#exec("find recoverable executions", "RECOVERABLE", [
      String(due.lease),
      String(due.wake),
      String(claimMs),
      String(limit),
      String(query.now.getTime()),
    ]);
    if (!Array.isArray(reply) || reply.length % 5 !== 0) throw new StoreError("Redis store: unexpected recoverable reply");
    const found: Recoverable[] = [];
    for (let i = 0; i < reply.length; i += 5) {
      const [id, workflowId, status, revision, dueAt] = reply.slice(i, i + 5);
      found.push({
        id: unwrap(id),
        workflowId: unwrap(workflowId),
        status: unwrap(status) as Recoverable["status"],
        revision: Number(revision),
        dueAt: unwrap(dueAt),
      });
    }
    return found;
  }

  async putDefinition(definition: StoredDefinition, options: { current?: boolean } = {}): Promise<{ stored: boolean; current: boolean }> {
    assertDefinition(definition);
    const text = serialize(definition, "A definition");
    const [stored, current] = numbers(
      await this.#exec("store a definition", "PUT_DEFINITION", [definition.hash, definition.workflowId, text, options.current ? "1" : "0"]),
      "store a definition",
    );
    return { stored: stored === 1, current: current === 1 };
  }

  async definition(hash: string): Promise<StoredDefinition | null> {
    assertDefinitionHash(hash);
    const reply = await this.#exec("read a definition", "DEFINITION", [hash]);
    return reply === null || reply === undefined ? null : parseStored<StoredDefinition>(reply, `definition ${hash}`);
  }

  async currentDefinition(workflowId: string): Promise<StoredDefinition | null> {
    const reply = await this.#exec("read the current definition", "CURRENT_DEFINITION", [workflowId]);
    return reply === null || reply === undefined ? null : parseStored<StoredDefinition>(reply, `the current definition of ${workflowId}`);
  }

  async definitionVersions(workflowId: string): Promise<DefinitionVersion[]> {
    const reply = await this.#exec("list definition versions", "DEFINITION_VERSIONS", [workflowId]);
    if (!Array.isArray(reply) || reply.length % 3 !== 1) throw new StoreError("Redis store: unexpected definition versions reply");
    const current = unwrap(reply[0]);
    const versions: DefinitionVersion[] = [];
    for (let i = 1; i < reply.length; i += 3) {
      const stored = parseStored<StoredDefinition>(reply[i], `a definition of ${workflowId}`);
      versions.push(definitionVersion({ ...stored, workflowId }, current, { halted: Number(reply[i + 1]), pending: Number(reply[i + 2]) }));
    }
    return versions;
  }

  async workflowIds(): Promise<string[]> {
    const reply = await this.#exec("list workflow ids", "WORKFLOW_IDS", []);
    if (!Array.isArray(reply)) throw new StoreError("Redis store: unexpected workflow ids reply");
    return reply.map((item) => unwrap(item)).sort();
  }

  async #page(
    what: string,
    query: { workflowId?: string; status?: ExecutionStatus; limit: number; cursor?: string; mode: "heads" | "ids" },
    filters?: FindFilters,
  ): Promise<{ items: unknown[]; cursor?: string }> {
    const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const k = this.#keys;
    const { workflowId, status } = query;
    const labels = filters?.labels ?? [];
    const createdTo = filters?.createdTo ?? Infinity;
    const max = position && position.score < createdTo ? String(position.score) : createdTo === Infinity ? "+inf" : `(${createdTo}`;
    const min = filters && filters.createdFrom !== -Infinity ? String(filters.createdFrom) : "-inf";
    const index = labels.length
      ? k.byLabel(...labels[0]!)
      : workflowId !== undefined && status !== undefined
      ? k.byStatusAndWorkflow(status, workflowId)
      : workflowId !== undefined
      ? k.byWorkflow(workflowId)
      : status !== undefined
      ? k.byStatus(status)
      : k.all;
    const reply = await this.#run(what, () =>
      this.#scripts.FIND.exec([index], [
        this.#prefix,
        String(query.limit),
        position ? String(position.score) : "",
        position?.id ?? "",
        status ?? "",
        workflowId === undefined ? "0" : "1",
        workflowId ?? "",
        query.mode,
        String(this.#clock().getTime()),
        max,
        min,
        filters?.updatedFrom ?? "",
        filters?.updatedTo ?? "",
        ...labels.flat(),
      ]));
    if (!Array.isArray(reply) || reply.length < 3) throw new StoreError(`Redis store: unexpected ${what} reply`);
    const [more, score, lastId, ...items] = reply as [unknown, unknown, unknown, ...unknown[]];
    const cursor = more === 1 ? encodeCursor({ score: Number(score), id: unwrap(lastId) }) : undefined;
    return { items, cursor };
  }

  async sendEvent(event: SentEvent, options: SendEventOptions): Promise<SendEventResult> {
    assertSentEvent(event);
    const sent = Date.parse(event.sentAt);
    const reply = await this.#exec("send an event", "SEND_EVENT", [
      event.name,
      event.id,
      serialize(event, "An event"),
      String(sent),
      event.sentAt,
      String(Math.max(0, Math.round(options.lookbackMs))),
      String(Math.max(1, Math.round(options.dedupMs))),
      ...options.keys,
    ]);
    if (!Array.isArray(reply) || reply.length === 0) throw new StoreError("Redis store: unexpected send-event reply");
    if (reply[0] === "#duplicate") return { duplicate: true, delivered: [], candidates: [] };
    const count = Number(reply[1]);
    const rest = reply.slice(2);
    const delivered = [];
    for (let i = 0; i < count * 3; i += 3) delivered.push(deliveryOf(rest, i));
    const candidates = [];
    for (let i = count * 3; i < rest.length; i += 5) {
      const match = unwrap(rest[i + 4]);
      candidates.push({ ...deliveryOf(rest, i), waitId: unwrap(rest[i + 3]), match: match === "" ? null : JSON.parse(match) });
    }
    return { duplicate: false, delivered, candidates };
  }

  async claimEvent(executionId: string, waitId: string, event: SentEvent): Promise<EventDelivery | null> {
    assertExecutionId(executionId);
    assertSentEvent(event);
    const reply = await this.#exec("claim an event", "CLAIM_EVENT", [
      executionId,
      waitId,
      event.id,
      serialize(event, "An event"),
      String(Date.parse(event.sentAt)),
      event.sentAt,
    ]);
    return Array.isArray(reply) && reply.length === 3 ? deliveryOf(reply, 0) : null;
  }

  async advanceCursor(name: string, at: number): Promise<{ moved: boolean; previous: number | null }> {
    const reply = await this.#exec("advance a trigger cursor", "ADVANCE_CURSOR", [name, String(at)]);
    if (!Array.isArray(reply) || reply.length !== 2) throw new StoreError("Redis store: unexpected cursor reply");
    const previous = unwrap(reply[1]);
    return { moved: reply[0] === 1, previous: previous === "" ? null : Number(previous) };
  }

  async flowAcquire(request: FlowAcquire): Promise<FlowAdmission> {
    const { concurrency, rate } = request;
    const reply = await this.#exec("admit a start", "FLOW_ACQUIRE", [
      request.workflowId,
      request.executionId,
      String(request.now),
      String(request.order),
      String(request.staleMs),
      concurrency?.key ?? "",
      String(concurrency?.limit ?? 0),
      rate?.key ?? "",
      String(rate?.limit ?? 0),
      String(rate?.periodMs ?? 0),
      rate?.member ?? "",
    ]);
    const [admitted, reason, a, b, c] = numbers([...(reply as number[]), 0], "flow admission");
    if (admitted === 1) return { admitted: true };
    if (reason === 2) return { admitted: false, reason: "rate", key: rate!.key, retryAt: a! };
    return { admitted: false, reason: "concurrency", key: concurrency!.key, holders: a!, limit: b!, position: c! };
  }

  async flowRelease(request: FlowRelease): Promise<string[]> {
    const reply = await this.#exec("release a slot", "FLOW_RELEASE", [
      request.workflowId,
      request.executionId,
      String(request.now),
      String(request.staleMs),
      request.concurrency.key,
      String(request.concurrency.limit),
    ]);
    return (reply as unknown[]).map(unwrap);
  }

  async flowDebounce(request: { workflowId: string; key: string; executionId: string; expected?: string }): Promise<string> {
    const args = [request.workflowId, request.key, request.executionId, request.expected ?? ""];
    return unwrap(await this.#exec("debounce a start", "FLOW_DEBOUNCE", args));
  }

  async flowState(workflowId: string, now: number): Promise<FlowKeyState[]> {
    const reply = (await this.#exec("read flow control", "FLOW_STATE", [workflowId, String(now)])) as unknown[];
    const states: FlowKeyState[] = [];
    for (let i = 0; i < reply.length;) {
      const kind = unwrap(reply[i]) === "c" ? "concurrency" : "rate";
      const [key, limit, periodMs, waiting, count] = [unwrap(reply[i + 1]), ...reply.slice(i + 2, i + 6).map(Number)] as [
        string,
        number,
        number,
        number,
        number,
      ];
      const holders = reply.slice(i + 6, i + 6 + count).map(unwrap).sort();
      states.push({ kind, key, limit, ...(kind === "rate" ? { period: periodMs / 1000 } : {}), holders, waiting });
      i += 6 + count;
    }
    return states;
  }

  /** Runs one of the scripts that take only ARGV (the prefix first). */
  #exec(what: string, script: Exclude<ScriptName, "FIND" | "COMMIT_AND_WAIT" | KeyLockedName>, args: string[]): Promise<unknown> {
    return this.#run(what, () => this.#scripts[script].exec([], [this.#prefix, ...args]));
  }

  /** Runs a KEY_LOCKED script (ARGV: the prefix, then args), with the key-locking shebang while the server takes it. */
  async #keyed(what: string, script: KeyLockedName, keys: string[], args: string[]): Promise<unknown> {
    const argv = [this.#prefix, ...args];
    if (this.#keyLocking) {
      try {
        return await this.#run(what, () => this.#locked[script].exec(keys, argv));
      } catch (error) {
        if (!(error instanceof StoreError && error.message.includes("Unexpected flag in script shebang"))) throw error;
        // redis-server (7.x) knows no allow-key-locking flag; it runs every script alone anyway.
        this.#keyLocking = false;
      }
    }
    return this.#run(what, () => this.#scripts[script].exec(keys, argv));
  }

  /** Runs one request; anything that is not one of our own errors becomes a StoreError with the cause. */
  async #run<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof DurableWorkflowError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new StoreError(`Redis store could not ${what}: ${message}`, { cause: error });
    }
  }
}

/**
 * A stored JSON object as the client hands it back: the text itself, or (with the client's default
 * automatic deserialization) already parsed by JSON.parse of that same text, which is just as exact.
 */
function parseStored<T>(raw: unknown, what: string): T {
  if (typeof raw === "string") {
    try {
      return JSON.parse(raw) as T;
    } catch (error) {
      throw new StoreError(`Redis store: ${what} is not valid JSON`, { cause: error });
    }
  }
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) return raw as T;
  throw new StoreError(`Redis store: ${what} is not a JSON object`);
}

function deliveryOf(reply: unknown[], at: number): EventDelivery {
  return { executionId: unwrap(reply[at]), workflowId: unwrap(reply[at + 1]), revision: Number(reply[at + 2]) };
}

function numbers(reply: unknown, what: string): number[] {
  if (!Array.isArray(reply) || reply.length < 2 || !reply.every((n) => typeof n === "number")) {
    throw new StoreError(`Redis store: unexpected ${what} reply ${JSON.stringify(reply)}`);
  }
  return reply;
}

function unwrap(raw: unknown): string {
  if (typeof raw !== "string" || !raw.startsWith("#")) throw new StoreError(`Redis store: unexpected reply item ${JSON.stringify(raw)}`);
  return raw.slice(1);
}
