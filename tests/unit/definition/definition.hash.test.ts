import { describe, expect, test } from "bun:test";
import canonicalize from "canonicalize";
import { loadExamples } from "../../../examples/index.ts";
import { contentHash } from "../../../src/definition/hash.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";

async function subtleHex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

describe("canonical JSON and content hash", () => {
  test("the hash is stable over key order", () => {
    expect(contentHash({ a: 1, b: [1, 2], c: { x: true, y: "s" } })).toBe(contentHash({ c: { y: "s", x: true }, b: [1, 2], a: 1 }));
  });

  test("the definition hash is SHA-256 of the canonical JSON of the definition without its hash", async () => {
    const workflow = loadWorkflow("id: h\nname: H\nsteps:\n  - id: start\n    type: start\n");
    const { hash, ...content } = workflow;
    expect(hash).toBe(await subtleHex(new TextEncoder().encode(canonicalize(content))));
  });
});

describe("pinned content hashes", () => {
  test("every example workflow keeps its content hash", () => {
    const hashes = Object.fromEntries(loadExamples().workflows.map((workflow) => [workflow.id, workflow.hash]));
    expect(hashes).toEqual({
      order_fulfillment: "8293ec178bdd0ad41121109d79371c53433843a6d190c7e1f0af844aad03048c",
      greeting: "b1a29663e9a31b7bda95ae7b5cb0d3cb15b59a3588b628265466fd9689a4770a",
      batch_pricing: "ffdcff91915a3ca340a360ecf9069c0d8f0c12519f65b16e5af721f7b42fc0ec",
      customer_profile: "98fd0443b00a3edeb60488473f4ba658a923f0af91b629623d73b08e4f19637f",
    });
  });

  test("keys sort by UTF-16 code unit, digits and capitals before letters, the empty key first", () => {
    const value = { zeta: 1, alpha: { b: 2, a: 1, B: 3, _: 4, "10": 5, "9": 6 }, "": "empty key" };
    expect(contentHash(value)).toBe("5a19194f127e28e88ef6328406b220eb81f7e9dea7d22730e1edaa68a199f2b6");
  });

  test("unicode keys and values, a surrogate pair sorting before U+FF61, escapes in keys", () => {
    const value = {
      "é": "café",
      "日本": "語",
      "😀": "emoji 👋",
      "\uff61": "halfwidth",
      "z\u0000": "nul",
      "\u2028": "line sep",
      '"quoted\\': "\\",
    };
    expect(contentHash(value)).toBe("d2d0e96d2c58be62153971f9bc578d85959a12d742ce86d3c2c103fe68d0705a");
  });

  test("floats are written as JavaScript writes them: -0 as 0, 1e21, 1e-7, 0.30000000000000004", () => {
    const value = { values: [0, -0, 1.5, -2.25, 1e21, 1e-7, 0.1 + 0.2, 123456789012345680000, 5e-324, 1.7976931348623157e308, 100, 1.0] };
    expect(contentHash(value)).toBe("ec494ccf556231bd20529874afd2cf6a209c3d52edee4af4a03f856a236475ec");
  });

  test("nested arrays keep their order, empty ones included", () => {
    const value = [[[]], [[1, [2, [3, { b: [], a: {} }]]]], [null, true, false, "s"], {}];
    expect(contentHash(value)).toBe("4a56a1ba9ff04483d7421136dc0456e0f5606cdb971dc92e6fbb0856037a85a5");
  });
});
