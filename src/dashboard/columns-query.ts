import { MAX_COLUMNS_RESPONSE_BYTES, MAX_KEYS_PER_REQUEST } from "./limits.js";

/** A valid `/api/runs/<id>/columns` request: how many rows, and which columns in which order. */
export interface ColumnsRequest {
  rows: number;
  /** Distinct column indices, in the order first listed. */
  columns: number[];
}

export type ColumnsQueryResult =
  | ({ ok: true } & ColumnsRequest)
  | { ok: false; status: 400 | 413; message: string };

const PARAMETERS = ["rows", "keys"];
/** Plain decimal digits only: Number() would also take "", " 1", "0x10" and "1e3". */
const INDEX = /^\d{1,9}$/;
const ROWS = /^\d{1,15}$/;

/**
 * Checks the query of a columns request against a run with `keyCount` columns and `rowCount`
 * rows: `rows` (default: all, more than stored means all) and `keys` (comma-separated column
 * indices; default: every column; empty: none). Every parameter is validated; duplicates in
 * `keys` are dropped (the response's `x-columns` header lists what was sent), more than
 * MAX_KEYS_PER_REQUEST entries are refused before anything is allocated, and a response over
 * MAX_COLUMNS_RESPONSE_BYTES is refused (413) rather than truncated: the client reads the body
 * positionally (rows × columns float32), so a cut body would be misread, while a refusal tells
 * it to ask for less.
 */
export function parseColumnsQuery(
  query: URLSearchParams,
  keyCount: number,
  rowCount: number,
): ColumnsQueryResult {
  const bad = (message: string): ColumnsQueryResult => ({ ok: false, status: 400, message });
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (!PARAMETERS.includes(name)) return bad(`unknown parameter "${clip(name)}" (expected rows, keys)`);
    if (seen.has(name)) return bad(`parameter "${name}" given more than once`);
    seen.add(name);
  }

  const rowsText = query.get("rows");
  let rows = rowCount;
  if (rowsText !== null) {
    if (!ROWS.test(rowsText)) return bad(`rows must be an integer >= 0, got "${clip(rowsText)}"`);
    rows = Math.min(Number(rowsText), rowCount);
  }

  const keysText = query.get("keys");
  let columns: number[];
  if (keysText === null) columns = Array.from({ length: keyCount }, (_, i) => i);
  else if (keysText === "") columns = [];
  else {
    const entries = keysText.split(",");
    if (entries.length > MAX_KEYS_PER_REQUEST) {
      return bad(`keys lists ${entries.length} columns; at most ${MAX_KEYS_PER_REQUEST} per request`);
    }
    const distinct = new Set<number>();
    for (const entry of entries) {
      const index = INDEX.test(entry) ? Number(entry) : -1;
      if (index < 0 || index >= keyCount) {
        const has = keyCount === 0 ? "no columns yet" : `columns 0 to ${keyCount - 1}`;
        return bad(`keys: no column "${clip(entry)}" (this run has ${has})`);
      }
      distinct.add(index);
    }
    columns = [...distinct];
  }

  const bytes = 4 * rows * columns.length;
  if (bytes > MAX_COLUMNS_RESPONSE_BYTES) {
    return {
      ok: false,
      status: 413,
      message:
        `${rows} rows × ${columns.length} columns is ${bytes} bytes, over the ` +
        `${MAX_COLUMNS_RESPONSE_BYTES}-byte limit per response; ask for fewer keys or rows`,
    };
  }
  return { ok: true, rows, columns };
}

/** Echoes client text in a message without echoing a whole 8 kB query back. */
function clip(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
