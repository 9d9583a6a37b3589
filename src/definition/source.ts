import {
  type Document,
  isAlias,
  isCollection,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
} from "yaml";
import { utf8Length } from "../json.ts";
import type { Json } from "../types.ts";
import type { RawIssue, Segment } from "./issues.ts";
import { copyPlainJson } from "./plain.ts";

/** Documents larger than this (UTF-8 bytes) are rejected before parsing. */
const MAX_DOCUMENT_BYTES = 1_048_576;
/** Deepest nesting of mappings and lists accepted in a definition. */
const MAX_DEPTH = 64;
/** yaml's guard against alias expansion ("billion laughs"). */
const MAX_ALIAS_COUNT = 100;
/** Most values a definition may expand to, aliases included. */
const MAX_VALUES = 200_000;

/** Where a path of the definition is in the source text (1-based), when the source was text. */
export type Locate = (path: readonly Segment[], atKey?: boolean) => { line: number; column: number } | undefined;

interface ReadSource {
  /** The definition as fresh plain JSON; undefined when nothing usable could be read. */
  value?: Json;
  issues: RawIssue[];
  locate?: Locate;
  /** The source text of an unquoted numeric top-level `version` (`1.0` stays "1.0"). */
  versionText?: string;
}

/** The YAML tags that stay plain JSON. Anything else (`!!binary`, `!!timestamp`, `!custom`) is refused. */
const JSON_TAGS = new Set(["str", "int", "float", "bool", "null", "map", "seq"].map((t) => `tag:yaml.org,2002:${t}`));

/** Keys whose normalised name differs from the one an older workflow file may use: to find `next` in `next_step: x`. */
const SOURCE_ALIASES: Record<string, string> = { next: "next_step", method: "method_name" };

/**
 * A cheap scan for absurd nesting before the YAML parser sees it: flow brackets (`[[[[`) outside quotes
 * and comments, and chains of block sequence dashes on one line (`- - - -`). The parser copes with both,
 * but slowly (seconds for a 1 MiB document), so they are refused up front. Returns the offending offset.
 */
function excessiveNesting(text: string, limit: number): number | undefined {
  let depth = 0;
  let quote: '"' | "'" | null = null;
  let lineStart = true;
  let dashes = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === "\n") {
      lineStart = true;
      dashes = 0;
      continue;
    }
    if (quote === '"') {
      if (ch === "\\") i++;
      else if (ch === '"') quote = null;
      continue;
    }
    if (quote === "'") {
      if (ch === "'") quote = null;
      continue;
    }
    if (lineStart) {
      if (ch === " " || ch === "\t") continue;
      if (ch === "-" && (text[i + 1] === " " || text[i + 1] === "\t")) {
        if (++dashes > limit) return i;
        i++;
        continue;
      }
      lineStart = false;
    }
    if (ch === "#" && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i + 1 < text.length && text[i + 1] !== "\n") i++;
    } else if (ch === '"' || ch === "'") {
      const before = i === 0 ? " " : text[i - 1]!;
      if (/[\s,\[{:]/.test(before)) quote = ch;
    } else if (ch === "[" || ch === "{") {
      if (++depth > limit) return i;
    } else if ((ch === "]" || ch === "}") && depth > 0) {
      depth--;
    }
  }
  return undefined;
}

/** Walks the YAML tree once: nesting depth, tags, mapping keys. Aliases are not followed (their anchor is walked). */
function checkTree(doc: Document, position: (offset: number) => { line: number; col: number }): RawIssue[] {
  const issues: RawIssue[] = [];
  const at = (node: { range?: [number, number, number] | null } | null | undefined) => node?.range ? position(node.range[0]) : undefined;
  const report = (message: string, node: { range?: [number, number, number] | null } | null | undefined) => {
    const pos = at(node);
    issues.push({ path: [], message, ...(pos ? { line: pos.line, column: pos.col } : {}) });
  };
  const walk = (node: unknown, depth: number): void => {
    if (issues.length > 20 || node == null || isAlias(node)) return;
    const tagged = node as { tag?: string; range?: [number, number, number] };
    if (tagged.tag && !JSON_TAGS.has(tagged.tag)) {
      report(`the YAML tag ${tagged.tag.replace("tag:yaml.org,2002:", "!!")} is not allowed (only plain JSON values)`, tagged);
      return;
    }
    if (!isCollection(node)) return;
    if (depth >= MAX_DEPTH) {
      report(`the document is nested more than ${MAX_DEPTH} levels deep`, tagged);
      return;
    }
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = pair.key;
        if (!isScalar(key) && !isAlias(key)) {
          report("a mapping key must be a plain string, not a mapping or a list", (key ?? node) as YamlNode);
          continue;
        }
        if (isScalar(key) && (key.value === null || key.value === "")) {
          report("a mapping key must not be empty", key);
          continue;
        }
        walk(key, depth + 1);
        walk(pair.value, depth + 1);
      }
    } else {
      for (const item of node.items) walk(isPair(item) ? item.value : item, depth + 1);
    }
  };
  walk(doc.contents, 0);
  return issues;
}

function keyText(node: unknown): string | undefined {
  return isScalar(node) && node.value !== null ? String(node.value) : undefined;
}

/** Finds the node of a path in the YAML tree (falling back to the deepest node found) and gives its position. */
function locator(doc: Document, lines: LineCounter): Locate {
  return (path, atKey) => {
    let node: unknown = doc.contents;
    let found: { range?: [number, number, number] | null } | null = node as YamlNode;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i]!;
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const key = String(segment);
        const pair = node.items.find((p) => keyText(p.key) === key) ??
          (SOURCE_ALIASES[key] ? node.items.find((p) => keyText(p.key) === SOURCE_ALIASES[key]) : undefined);
        if (!pair) break;
        if (i === path.length - 1 && atKey) {
          found = pair.key as YamlNode;
          break;
        }
        node = pair.value ?? pair.key;
      } else if (isSeq(node) && typeof segment === "number") {
        node = node.items[segment];
        if (node == null) break;
      } else {
        break;
      }
      found = node as YamlNode;
    }
    if (!found?.range) return undefined;
    const { line, col } = lines.linePos(found.range[0]);
    return { line, column: col };
  };
}

function readText(text: string): ReadSource {
  const size = text.length > MAX_DOCUMENT_BYTES ? text.length : utf8Length(text);
  if (size > MAX_DOCUMENT_BYTES) {
    const shown = text.length > MAX_DOCUMENT_BYTES ? "more than 1 MiB" : `${size} bytes`;
    return { issues: [{ path: [], message: `the document is ${shown}; at most ${MAX_DOCUMENT_BYTES} bytes (1 MiB) are accepted` }] };
  }
  const lines = new LineCounter();
  const deep = excessiveNesting(text, MAX_DEPTH);
  if (deep !== undefined) {
    lines.addNewLine(0);
    for (let i = 0; i < deep; i++) if (text[i] === "\n") lines.addNewLine(i + 1);
    const { line, col } = lines.linePos(deep);
    return { issues: [{ path: [], message: `the document is nested more than ${MAX_DEPTH} levels deep`, line, column: col }] };
  }
  const doc = parseDocument(text, {
    lineCounter: lines,
    keepSourceTokens: true,
    prettyErrors: false,
    // JSON-compatible scalars: dates stay strings, `yes`/`no` stay strings, as in YAML 1.2.
    schema: "core",
    version: "1.2",
    merge: true,
    uniqueKeys: true,
    strict: true,
  });
  const locate = locator(doc, lines);
  const position = (offset: number) => lines.linePos(offset);
  const problems = [...doc.errors, ...doc.warnings.filter((w) => w.code !== "TAG_RESOLVE_FAILED")];
  if (problems.length) {
    return {
      locate,
      issues: problems.slice(0, 20).map((error) => {
        const { line, col } = position(error.pos[0]);
        const message = /call stack/i.test(error.message)
          ? "the document is nested too deeply"
          : `YAML syntax error: ${error.message.replace(/\s+at line \d+, column \d+:?[\s\S]*$/, "")}`;
        return { path: [], message, line, column: col };
      }),
    };
  }
  const treeIssues = checkTree(doc, position);
  if (treeIssues.length) return { locate, issues: treeIssues };
  if (doc.contents === null) return { locate, issues: [{ path: [], message: "the document is empty" }] };

  let js: unknown;
  try {
    js = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    const bomb = error instanceof ReferenceError && /alias/i.test(error.message);
    const message = bomb
      ? `YAML aliases expand too much (over the limit of ${MAX_ALIAS_COUNT} alias expansions): refused as a possible alias bomb`
      : `the YAML document could not be read: ${error instanceof Error ? error.message : String(error)}`;
    return { locate, issues: [{ path: [], message }] };
  }
  const { value, issues } = copyPlainJson(js, [], { maxDepth: MAX_DEPTH, maxValues: MAX_VALUES, what: "document" });

  let versionText: string | undefined;
  if (isMap(doc.contents)) {
    const pair = doc.contents.items.find((p) => keyText(p.key) === "version");
    const node = pair?.value;
    if (isScalar(node) && typeof node.value === "number" && node.type === "PLAIN" && node.range) {
      versionText = text.slice(node.range[0], node.range[1]).trim();
    }
  }
  return { value, issues, locate, versionText };
}

/** Reads YAML text, JSON text or a plain object into fresh plain JSON, never throwing. */
export function readSource(source: unknown): ReadSource {
  if (typeof source === "string") return readText(source);
  if (source === null || typeof source !== "object" || Array.isArray(source)) {
    const got = Array.isArray(source) ? "a list" : source === null ? "null" : `a ${typeof source}`;
    return { issues: [{ path: [], message: `a workflow definition must be YAML or JSON text or a plain object, got ${got}` }] };
  }
  const { value, issues } = copyPlainJson(source, [], { maxDepth: MAX_DEPTH, maxValues: MAX_VALUES, what: "definition" });
  return { value, issues };
}
