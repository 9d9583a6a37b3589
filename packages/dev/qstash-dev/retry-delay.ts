const FUNCTIONS: Record<string, (...args: number[]) => number> = {
  pow: Math.pow,
  sqrt: Math.sqrt,
  abs: Math.abs,
  exp: Math.exp,
  floor: Math.floor,
  ceil: Math.ceil,
  round: Math.round,
  min: Math.min,
  max: Math.max,
};

/**
 * `Upstash-Retry-Delay`: an arithmetic expression in ms over `retried` (0 before the first retry) with
 * + - * / ( ) and pow, sqrt, abs, exp, floor, ceil, round, min, max — e.g. `1000 * pow(2, retried)`.
 */
export function compileRetryDelay(source: string): (retried: number) => number {
  const tokens = source.match(/\d+(?:\.\d+)?|[A-Za-z_]\w*|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const token = tokens[i++];
    if (token === undefined || (expected !== undefined && token !== expected)) {
      throw new Error(`expected ${expected ?? "more"} at token ${i}, got ${token ?? "the end"}`);
    }
    return token;
  };
  type Node = (retried: number) => number;
  const expr = (): Node => {
    let left = term();
    while (peek() === "+" || peek() === "-") {
      const op = take();
      const a = left;
      const b = term();
      left = op === "+" ? (r) => a(r) + b(r) : (r) => a(r) - b(r);
    }
    return left;
  };
  const term = (): Node => {
    let left = factor();
    while (peek() === "*" || peek() === "/") {
      const op = take();
      const a = left;
      const b = factor();
      left = op === "*" ? (r) => a(r) * b(r) : (r) => a(r) / b(r);
    }
    return left;
  };
  const factor = (): Node => {
    const token = take();
    if (token === "-") {
      const inner = factor();
      return (r) => -inner(r);
    }
    if (token === "(") {
      const inner = expr();
      take(")");
      return inner;
    }
    if (/^\d/.test(token)) {
      const value = Number(token);
      return () => value;
    }
    if (token === "retried") return (r) => r;
    const fn = FUNCTIONS[token];
    if (!fn) throw new Error(`unknown name ${token}`);
    take("(");
    const args: Node[] = [expr()];
    while (peek() === ",") {
      take(",");
      args.push(expr());
    }
    take(")");
    return (r) => fn(...args.map((arg) => arg(r)));
  };
  const node = expr();
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i]}`);
  return (retried) => {
    const value = node(retried);
    return Number.isFinite(value) ? value : 0;
  };
}
