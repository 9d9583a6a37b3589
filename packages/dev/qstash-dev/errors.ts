/** A request qstash-dev refuses; answered as `{ "error": message }` with its status. */
export class QStashDevError extends Error {
  override name = "QStashDevError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
