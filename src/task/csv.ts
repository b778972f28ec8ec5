/**
 * A small RFC 4180 CSV reader, enough for the pandas dump of `predibase/wordle-grpo` (its
 * `prompt` column holds quoted text with embedded newlines, commas and doubled quotes).
 *
 * Why not a library: the format needs one state machine of ~60 lines, and none of the project's
 * dependencies reads CSV. Rules: fields are separated by commas, records by LF or CRLF; a field
 * that starts with `"` runs to the next lone `"`, where `""` stands for one quote and newlines are
 * kept verbatim; an unquoted field may not contain a quote. A UTF-8 byte-order mark is skipped.
 */

export interface CsvTable {
  header: string[];
  /** One object per record, keyed by header names. */
  records: Record<string, string>[];
  /** 1-based line number where each record starts (for error messages). */
  lines: number[];
}

/** Split CSV text into records of fields. Throws with the line number of a malformed record. */
export function parseCsvRecords(text: string, source = "CSV"): { fields: string[][]; lines: number[] } {
  const fields: string[][] = [];
  const lines: number[] = [];
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (pos < text.length) {
    const record: string[] = [];
    const recordLine = line;
    for (;;) {
      let value = "";
      if (text[pos] === '"') {
        pos++;
        for (;;) {
          const close = text.indexOf('"', pos);
          if (close < 0) throw new Error(`${source}: line ${recordLine}: a quoted field is never closed`);
          const chunk = text.slice(pos, close);
          value += chunk;
          line += countNewlines(chunk);
          if (text[close + 1] === '"') {
            value += '"';
            pos = close + 2;
            continue;
          }
          pos = close + 1;
          break;
        }
        const after = text[pos];
        if (after !== undefined && after !== "," && after !== "\n" && after !== "\r") {
          throw new Error(
            `${source}: line ${line}: unexpected ${JSON.stringify(after)} after a closing quote`,
          );
        }
      } else {
        const start = pos;
        while (pos < text.length && text[pos] !== "," && text[pos] !== "\n" && text[pos] !== "\r") {
          if (text[pos] === '"') {
            throw new Error(
              `${source}: line ${line}: a quote inside an unquoted field (quote the whole field)`,
            );
          }
          pos++;
        }
        value = text.slice(start, pos);
      }
      record.push(value);
      if (text[pos] === ",") {
        pos++;
        continue;
      }
      if (text[pos] === "\r" && text[pos + 1] === "\n") pos += 2;
      else if (text[pos] === "\n" || text[pos] === "\r") pos++;
      line++;
      break;
    }
    fields.push(record);
    lines.push(recordLine);
  }
  return { fields, lines };
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf("\n"); i >= 0; i = s.indexOf("\n", i + 1)) n++;
  return n;
}

/**
 * Parse CSV text whose first record is a header. Every record must have as many fields as the
 * header; a record that does not is an error naming its line (a silently shifted column would
 * corrupt training data).
 */
export function parseCsv(text: string, source = "CSV"): CsvTable {
  const { fields, lines } = parseCsvRecords(text, source);
  if (fields.length === 0) throw new Error(`${source}: empty file, expected a header line`);
  const header = fields[0];
  const records: Record<string, string>[] = [];
  const keptLines: number[] = [];
  for (let r = 1; r < fields.length; r++) {
    const row = fields[r];
    // A blank line reads as one empty field; like pandas, skip it instead of failing.
    if (row.length === 1 && row[0] === "" && header.length > 1) continue;
    if (row.length !== header.length) {
      throw new Error(
        `${source}: line ${lines[r]}: expected ${header.length} fields (${header.join(", ")}), found ${row.length}`,
      );
    }
    const record: Record<string, string> = {};
    header.forEach((name, i) => {
      record[name] = row[i];
    });
    records.push(record);
    keptLines.push(lines[r]);
  }
  return { header, records, lines: keptLines };
}
