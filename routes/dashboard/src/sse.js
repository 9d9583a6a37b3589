// @ts-check
/** Server-Sent Events read from a `fetch` body (EventSource cannot send the Authorization header). */

/** @typedef {import("./types.js").SseMessage} SseMessage */

/**
 * Reads SSE messages from a byte stream until it ends or `signal` aborts: fields id / event / data, a blank
 * line ends a message, `:` lines (heartbeats) are skipped, an id holding NUL is ignored (as the standard says).
 * @param {ReadableStream<BufferSource>} body
 * @param {AbortSignal} signal
 * @param {(message: SseMessage) => void} onMessage
 */
export async function readEvents(body, signal, onMessage) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const cancel = () => {
    reader.cancel().catch(() => {});
  };
  signal.addEventListener("abort", cancel, { once: true });
  let buffer = "";
  /** @type {string[]} */
  let data = [];
  let type = "";
  /** @type {string | null} */
  let id = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        if (!match) break;
        // A lone CR at the end may be the first half of a CRLF: wait for the next chunk.
        if (match[0] === "\r" && match.index === buffer.length - 1) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          if (data.length) onMessage({ id, event: type, data: data.join("\n") });
          data = [];
          type = "";
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "data") data.push(text);
        else if (field === "event") type = text;
        else if (field === "id" && !text.includes("\u0000")) id = text;
      }
    }
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}
