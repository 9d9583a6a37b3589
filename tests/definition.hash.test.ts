import { describe, expect, test } from "bun:test";
import { canonicalJson, contentHash } from "../src/definition/hash.ts";
import { loadWorkflow } from "../src/definition/load.ts";
import { sha256Hex } from "../src/definition/sha256.ts";

async function subtleHex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("sha256", () => {
  test('"abc" gives the FIPS 180-4 vector', () => {
    expect(sha256Hex("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  test("the empty string gives the known vector", () => {
    expect(sha256Hex("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  test("the two-block 448-bit message gives the known vector", () => {
    expect(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
      .toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  test("non-ASCII text is hashed as UTF-8", async () => {
    const text = "héllo, 世界 👋";
    expect(sha256Hex(text)).toBe(await subtleHex(new TextEncoder().encode(text)));
  });

  test("every length around the block boundaries matches crypto.subtle", async () => {
    for (let n = 0; n <= 130; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
      expect(sha256Hex(bytes)).toBe(await subtleHex(bytes));
    }
  });

  test("a 1 MB string matches crypto.subtle", async () => {
    const text = "durable-workflow ".repeat(61_681).slice(0, 1_000_000);
    expect(sha256Hex(text)).toBe(await subtleHex(new TextEncoder().encode(text)));
  });
});

describe("canonical JSON and content hash", () => {
  test("canonical JSON sorts keys recursively and keeps list order", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  });

  test("the hash is stable over key order", () => {
    expect(contentHash({ a: 1, b: [1, 2], c: { x: true, y: "s" } })).toBe(contentHash({ c: { y: "s", x: true }, b: [1, 2], a: 1 }));
  });

  test("the definition hash is SHA-256 of the canonical JSON of the definition without its hash", async () => {
    const workflow = loadWorkflow("id: h\nname: H\nsteps:\n  - id: start\n    type: start\n");
    const { hash, ...content } = workflow;
    expect(hash).toBe(await subtleHex(new TextEncoder().encode(canonicalJson(content))));
  });
});
