/**
 * POST a JSON request to an OpenAI-compatible server, patiently: 429 and 5xx answers, network
 * errors and timeouts are retried with exponential backoff (the server's Retry-After when it
 * gives one), so a long evaluation survives a busy or restarting server. Other 4xx answers are the
 * request's fault and fail at once, with the server's own error message.
 */

export interface EndpointClientOptions {
  /** Bearer token (read from an environment variable by the caller; never logged here). */
  apiKey?: string;
  /** Retries after the first try (default 3). */
  retries?: number;
  /** Per-try timeout (default 120 s). */
  timeoutMs?: number;
  /** First backoff (default 500 ms), doubled per retry, at most maxBackoffMs (default 30 s). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Waits between tries (tests pass a fake clock). */
  sleep?: (ms: number) => Promise<void>;
}

/** The wait a Retry-After header asks for (seconds or an HTTP date), or null. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

function errorMessage(status: number, text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === "string") return `HTTP ${status}: ${message}`;
  } catch {}
  return `HTTP ${status}: ${text.slice(0, 300)}`;
}

export async function postJson(
  url: string,
  body: unknown,
  options: EndpointClientOptions = {},
): Promise<unknown> {
  const retries = options.retries ?? 3;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.apiKey !== undefined) headers.authorization = `Bearer ${options.apiKey}`;
  for (let attempt = 0; ; attempt++) {
    const backoff = Math.min(maxBackoff, (options.backoffMs ?? 500) * 2 ** attempt);
    let failure: string;
    let wait = backoff;
    try {
      const res = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      if (res.ok) return JSON.parse(text);
      failure = errorMessage(res.status, text);
      if (res.status !== 429 && res.status < 500) throw new Error(`${url}: ${failure}`);
      wait = Math.min(maxBackoff, retryAfterMs(res.headers.get("retry-after")) ?? backoff);
    } catch (error) {
      if ((error as Error).message.startsWith(`${url}: `)) throw error;
      const name = (error as Error).name;
      failure = name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : (error as Error).message;
      if (name === "SyntaxError") throw new Error(`${url}: the answer is not JSON (${failure})`);
    }
    if (attempt >= retries) throw new Error(`${url}: ${failure} (after ${attempt + 1} tries)`);
    await sleep(wait);
  }
}

/** At most `limit` calls of fn in flight; results in input order. */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
