export type Bytes = Uint8Array<ArrayBuffer>;

export function encodeText(text: string): Bytes {
  return new TextEncoder().encode(text);
}

function utf8(bytes: Bytes): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

export function toBase64(bytes: Bytes): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256(bytes: Bytes): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

/** The way QStash reports a body: as text when it is UTF-8, else as base64. */
export function bodyFields(bytes: Bytes): { body: string } | { bodyBase64: string } {
  const text = utf8(bytes);
  return text === undefined ? { bodyBase64: toBase64(bytes) } : { body: text };
}
