/**
 * Errors that mean "the database cannot be reached right now", as opposed to a bug or bad data.
 * Silence counts as much as a refusal: a statement the server cancelled (57014), a connection that
 * did not open in time, and a query the client gave up on (`Query read timeout`, pg's
 * query_timeout: a black-holed database that accepts connections and answers nothing).
 */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
  '53300',
  '57014',
]);

export function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && UNAVAILABLE_CODES.has(e.code)) return true;
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout|Query read timeout|timeout expired|Client has encountered a connection error|Cannot use a pool after calling end/i.test(
    e.message ?? '',
  );
}

export function describeError(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return `${e?.message ?? String(err)}${e?.code ? ` (${e.code})` : ''}`.slice(0, 300);
}
