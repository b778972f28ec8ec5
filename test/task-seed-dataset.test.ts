import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { dataPath } from "../src/paths.js";
import { parseCsv } from "../src/task/csv.js";
import { parsePythonLiteral } from "../src/task/python-literal.js";
import { loadSeedDataset, SEED_DATASET_FILE } from "../src/task/seed-dataset.js";
import { splitTrainValidation } from "../src/task/split.js";
import { renderFeedback } from "../src/wordle/feedback.js";
import { scoreGuess } from "../src/wordle/score.js";

type RawSeedRow = { prompt: string; word_list: string; past_guess_history: string; secret: string };
const rawRows = (): RawSeedRow[] =>
  readFileSync(dataPath(SEED_DATASET_FILE), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));

test("seed JSONL: 75 valid rows, the ['ERROR'] row 20 skipped with its reason", () => {
  const { rows, skipped } = loadSeedDataset();
  assert.equal(rows.length, 75);
  assert.equal(skipped.length, 1);
  assert.equal(skipped[0].index, 20);
  assert.match(skipped[0].reason, /secret must be a 5-letter word.*ERROR/);
  assert.ok(
    rows.every((r) => r.wordList.startsWith("https://")),
    "the URL is kept as text",
  );
  const lengths = [0, 0, 0];
  for (const r of rows) lengths[r.history.length]++;
  // data/SOURCES.md: 2 rows with 0 guesses, 19 with 1, 55 with 2; the ERROR row has an empty history.
  assert.deepEqual(lengths, [1, 19, 55]);
});

test("every valid seed row's feedback strings are reproduced by scoreGuess + renderFeedback", () => {
  const { rows } = loadSeedDataset();
  const raw = rawRows();
  let checked = 0;
  for (const row of rows) {
    const history = parsePythonLiteral(raw[row.index].past_guess_history) as string[][];
    for (const [guess, feedbackText] of history) {
      const rendered = renderFeedback(guess, scoreGuess(guess, row.secret), "dataset");
      assert.equal(rendered, feedbackText, `row ${row.index} guess ${guess}`);
      checked++;
    }
  }
  assert.equal(checked, 19 + 2 * 55);
});

test("rows with wrong feedback, a solved history, a non-answer secret or a bad literal are skipped", () => {
  const [good] = rawRows().filter((r) => r.past_guess_history.length > 2);
  const dir = mkdtempSync(join(tmpdir(), "seed-"));
  const path = join(dir, "rows.jsonl");
  const variants: RawSeedRow[] = [
    good,
    { ...good, past_guess_history: good.past_guess_history.replace("C(x)", "C(✓)") },
    { ...good, past_guess_history: `[['${good.secret}', 'A(✓) B(✓) C(✓) D(✓) E(✓)']]` },
    { ...good, secret: "ZZZZZ" },
    { ...good, past_guess_history: "[['CRANE', 'C(x) R(x)" },
  ];
  writeFileSync(path, variants.map((v) => JSON.stringify(v)).join("\n") + "\nnot json\n");
  const { rows, skipped } = loadSeedDataset(path);
  assert.equal(rows.length, 1);
  assert.deepEqual(
    skipped.map((s) => s.index),
    [1, 2, 3, 4, 5],
  );
  assert.match(skipped[0].reason, /differs from scoring CRANE against/);
  assert.match(skipped[1].reason, /already contains the secret/);
  assert.match(skipped[2].reason, /not one of the 2,315 Wordle answers/);
  assert.match(skipped[3].reason, /past_guess_history: Python literal: expected closing '/);
  assert.match(skipped[4].reason, /line 6: invalid JSON/);
});

/**
 * Write rows the way pandas' to_csv does: an unnamed index column first, fields quoted when they
 * need it, inner quotes doubled.
 */
function toCsv(rows: RawSeedRow[]): string {
  const quote = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s);
  const columns = ["prompt", "word_list", "past_guess_history", "secret"] as const;
  const lines = rows.map((r, i) => [String(i), ...columns.map((c) => quote(r[c]))].join(","));
  return [`,${columns.join(",")}`, ...lines].join("\n") + "\n";
}

test("the original CSV layout (extra index column ignored) loads to the same rows as the JSONL", () => {
  const dir = mkdtempSync(join(tmpdir(), "seed-"));
  const path = join(dir, "train.csv");
  writeFileSync(path, toCsv(rawRows()));
  const fromCsv = loadSeedDataset(path);
  const fromJsonl = loadSeedDataset();
  assert.deepEqual(fromCsv, fromJsonl);
  writeFileSync(path, "prompt,secret\nx,CRANE\n");
  assert.throws(() => loadSeedDataset(path), /header lacks column\(s\) word_list, past_guess_history/);
});

test("CSV reader: quoted fields with newlines, doubled quotes, CRLF, BOM, and clear errors", () => {
  const table = parseCsv('\uFEFFa,b\r\n"x, ""y""\nz",2\r\n\n3,\n', "t.csv");
  assert.deepEqual(table.header, ["a", "b"]);
  assert.deepEqual(table.records, [
    { a: 'x, "y"\nz', b: "2" },
    { a: "3", b: "" },
  ]);
  assert.deepEqual(table.lines, [2, 5]);
  assert.throws(() => parseCsv('a,b\n"open,1\n', "t.csv"), /t\.csv: line 2: a quoted field is never closed/);
  assert.throws(
    () => parseCsv("a,b\n1,2,3\n", "t.csv"),
    /t\.csv: line 2: expected 2 fields \(a, b\), found 3/,
  );
  assert.throws(() => parseCsv('a,b\nx"y,1\n', "t.csv"), /quote inside an unquoted field/);
});

test("Python literal parser: both quote styles, escapes, nesting; rejects code", () => {
  assert.deepEqual(parsePythonLiteral("[]"), []);
  assert.deepEqual(parsePythonLiteral(`[['CRANE', "C(x) R(✓)"], ['it\\'s', "say \\"hi\\"",]]`), [
    ["CRANE", "C(x) R(✓)"],
    ["it's", 'say "hi"'],
  ]);
  assert.equal(parsePythonLiteral(String.raw`'\n\t\\\x41\u00e9\U0001F600\101\q'`), "\n\t\\Aé😀A\\q");
  assert.throws(
    () => parsePythonLiteral("__import__('os')"),
    /expected a list '\[' or a quoted string at offset 0/,
  );
  assert.throws(() => parsePythonLiteral("['a' 'b']"), /expected ',' or '\]' at offset 5/);
  assert.throws(() => parsePythonLiteral("['a'] x"), /end of text after the literal/);
  assert.throws(() => parsePythonLiteral("'\\x4'"), /2 hex digits/);
  assert.throws(() => parsePythonLiteral("[".repeat(100) + "]".repeat(100)), /at most 64 nested lists/);
});

test("train/validation split: 60/15, disjoint, complete and stable for a seed", () => {
  const { rows } = loadSeedDataset();
  const a = splitTrainValidation(rows, 42);
  const b = splitTrainValidation(loadSeedDataset().rows, 42);
  assert.equal(a.train.length, 60);
  assert.equal(a.validation.length, 15);
  const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
  assert.deepEqual(ids(a.validation), ids(b.validation));
  assert.deepEqual(new Set([...ids(a.train), ...ids(a.validation)]), new Set(ids(rows)));
  assert.equal(new Set([...ids(a.train), ...ids(a.validation)]).size, 75);
  // Each part keeps file order.
  assert.deepEqual(
    a.validation.map((r) => r.index),
    [...a.validation.map((r) => r.index)].sort((x, y) => x - y),
  );
  // Pinned: a change here means every earlier run's validation set silently changed.
  assert.deepEqual(
    a.validation.map((r) => r.index),
    [0, 4, 7, 8, 16, 17, 32, 36, 42, 48, 51, 60, 61, 71, 75],
  );
  const other = splitTrainValidation(rows, 43);
  assert.notDeepEqual(ids(other.validation), ids(a.validation), "another seed gives another split");
});
