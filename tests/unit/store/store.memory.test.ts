import { describe, expect, test } from "bun:test";
import { ValidationError } from "../../../src/errors.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import type { Entry, StoredEvent } from "../../../src/types.ts";
import { makeEntry, makeEvent, makeExecution, storeContract } from "../../support/store-contract.ts";

storeContract("MemoryStore", () => new MemoryStore());

// A run's entries and events are copied field by field; any others must come back as the JSON round trip gives them.
describe("MemoryStore: entries and events not in a run's form", () => {
  const roundTrip = <T>(value: T): T => JSON.parse(JSON.stringify(value));

  test("extra keys, another key order and values JSON changes are stored as their JSON round trip", async () => {
    const store = new MemoryStore();
    const exec = makeExecution();
    const { id, ...rest } = makeEntry(exec.id);
    const reordered = { ...rest, id } as Entry;
    const extra = { ...makeEntry(exec.id), note: "kept" } as Entry;
    const changed = makeEntry(exec.id, { output: { gone: undefined, nan: NaN, at: new Date(0) } as never, attempt: -0 });
    const event = { ...makeEvent(1), extra: true } as StoredEvent;
    const odd = makeEvent(2, { data: { executionId: exec.id, stepId: "s", stepType: "call", output: { n: -Infinity } } });
    await store.commit({ execution: exec, expectedRevision: 0, entries: [reordered, extra, changed], events: [event, odd] });
    const entries = await store.entries(exec.id);
    const events = await store.events(exec.id);
    expect(JSON.stringify(entries)).toBe(JSON.stringify([reordered, extra, changed]));
    expect(entries).toStrictEqual(roundTrip([reordered, extra, changed]));
    expect(JSON.stringify(events)).toBe(JSON.stringify([event, odd]));
  });

  test("an entry whose output JSON cannot hold is refused with a ValidationError, and nothing is written", async () => {
    const store = new MemoryStore();
    const exec = makeExecution();
    const entry = makeEntry(exec.id, { output: { big: 1n } as never });
    await expect(store.commit({ execution: exec, expectedRevision: 0, entries: [entry] })).rejects.toBeInstanceOf(ValidationError);
    expect(await store.load(exec.id)).toBeNull();
  });

  test("an event JSON cannot hold is refused with a ValidationError, and nothing is written", async () => {
    const store = new MemoryStore();
    const exec = makeExecution();
    const event = makeEvent(1, { data: { big: 1n } as never });
    await expect(store.commit({ execution: exec, expectedRevision: 0, events: [event] })).rejects.toBeInstanceOf(ValidationError);
    expect(await store.load(exec.id)).toBeNull();
  });

  test("values shared by entries and events (a loop's outputs, its body's) are read back as separate copies", async () => {
    const store = new MemoryStore();
    const exec = makeExecution();
    const outputs = [{ counter: 1 }, { counter: 2 }];
    const body = outputs.map((output) => makeEntry(exec.id, { stepId: "each:bump", output }));
    const loop = makeEntry(exec.id, { stepId: "each", output: outputs });
    const event = makeEvent(1, { data: { executionId: exec.id, stepId: "each", stepType: "loop", output: outputs } });
    const expected = structuredClone([...body, loop]);
    await store.commit({ execution: exec, expectedRevision: 0, entries: [...body, loop], events: [event] });
    outputs[0]!.counter = 9;
    const entries = await store.entries(exec.id);
    expect(entries).toEqual(expected);
    (entries[0]!.output as { counter: number }).counter = 5;
    expect(entries[2]!.output).toEqual([{ counter: 1 }, { counter: 2 }]);
    expect((await store.events(exec.id))[0]!.data.output).toEqual([{ counter: 1 }, { counter: 2 }]);
  });
});
