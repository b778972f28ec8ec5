/**
 * Loader for the seed dataset `predibase/wordle-grpo` (76 rows), either as the JSONL copy in
 * data/ or in the original CSV layout (columns prompt, word_list, past_guess_history, secret).
 *
 * Every row is checked before it can reach training: the secret must be one of the 2,315 answers,
 * `past_guess_history` must be a Python list of [guess, feedback] pairs (read by a small literal
 * parser, never evaluated), every feedback string must equal what scoring that guess against the
 * secret gives, and no history may already contain the secret. A failing row is skipped and
 * reported with its index and reason (the upstream file has one: index 20, secret `['ERROR']`).
 * The `word_list` column is a URL; it is kept as text and never fetched.
 */
import { readFileSync } from "node:fs";
import { dataPath } from "../paths.js";
import type { HistoryEntry } from "../wordle/candidates.js";
import { parseFeedback, renderFeedback } from "../wordle/feedback.js";
import { scoreGuess } from "../wordle/score.js";
import { loadWordLists } from "../wordle/words.js";
import { parseCsv } from "./csv.js";
import { parsePythonLiteral } from "./python-literal.js";
import type { TaskState } from "./state.js";

export const SEED_DATASET_FILE = "wordle-grpo-seed.jsonl";
export const SEED_COLUMNS = ["prompt", "word_list", "past_guess_history", "secret"] as const;

export interface SeedRow extends TaskState {
  /** 0-based index of the row in the source file (header excluded). */
  index: number;
  /** The dataset's own prompt text (Qwen2.5 ChatML with the pre-filled assistant turn). */
  prompt: string;
  /** The dataset's `word_list` column (a URL, kept as text only). */
  wordList: string;
}

export interface SkippedRow {
  index: number;
  reason: string;
}

export interface SeedDataset {
  rows: SeedRow[];
  skipped: SkippedRow[];
}

export interface LoadSeedOptions {
  /** Defaults to the file extension (.csv is CSV, anything else JSONL). */
  format?: "jsonl" | "csv";
}

/** Load and validate the seed dataset (default: data/wordle-grpo-seed.jsonl). */
export function loadSeedDataset(
  path: string = dataPath(SEED_DATASET_FILE),
  options: LoadSeedOptions = {},
): SeedDataset {
  const format = options.format ?? (path.toLowerCase().endsWith(".csv") ? "csv" : "jsonl");
  const text = readFileSync(path, "utf8");
  const raw = format === "csv" ? readCsvRows(text, path) : readJsonlRows(text, path);
  return validateSeedRows(raw);
}

/** A row as read from disk, before validation; `error` set when the row could not even be read. */
export interface RawSeedRow {
  index: number;
  fields?: Record<string, unknown>;
  error?: string;
}

function readJsonlRows(text: string, path: string): RawSeedRow[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((line, index) => {
    try {
      const value: unknown = JSON.parse(line);
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        return { index, error: `${path}: line ${index + 1}: expected a JSON object` };
      }
      return { index, fields: value as Record<string, unknown> };
    } catch (e) {
      return { index, error: `${path}: line ${index + 1}: invalid JSON (${(e as Error).message})` };
    }
  });
}

function readCsvRows(text: string, path: string): RawSeedRow[] {
  const table = parseCsv(text, path);
  const missing = SEED_COLUMNS.filter((c) => !table.header.includes(c));
  if (missing.length > 0) {
    throw new Error(
      `${path}: header lacks column(s) ${missing.join(", ")}; expected ${SEED_COLUMNS.join(", ")}`,
    );
  }
  return table.records.map((fields, index) => ({ index, fields }));
}

/** Validate raw rows; exported for callers that obtain rows some other way (e.g. a HF export). */
export function validateSeedRows(raw: readonly RawSeedRow[]): SeedDataset {
  const { answerSet } = loadWordLists();
  const rows: SeedRow[] = [];
  const skipped: SkippedRow[] = [];
  for (const item of raw) {
    if (item.error !== undefined || item.fields === undefined) {
      skipped.push({ index: item.index, reason: item.error ?? "unreadable row" });
      continue;
    }
    try {
      rows.push(validateRow(item.index, item.fields, answerSet));
    } catch (e) {
      skipped.push({ index: item.index, reason: (e as Error).message });
    }
  }
  return { rows, skipped };
}

function validateRow(index: number, fields: Record<string, unknown>, answers: ReadonlySet<string>): SeedRow {
  for (const column of SEED_COLUMNS) {
    if (typeof fields[column] !== "string") {
      throw new Error(
        `row ${index}: column ${column} must be a string, got ${JSON.stringify(fields[column])}`,
      );
    }
  }
  const f = fields as Record<(typeof SEED_COLUMNS)[number], string>;
  const secret = f.secret.trim().toLowerCase();
  if (!/^[a-z]{5}$/.test(secret)) {
    throw new Error(`row ${index}: secret must be a 5-letter word, got ${JSON.stringify(f.secret)}`);
  }
  if (!answers.has(secret)) {
    throw new Error(
      `row ${index}: secret ${JSON.stringify(f.secret)} is not one of the 2,315 Wordle answers`,
    );
  }
  const history = parseHistory(index, f.past_guess_history, secret);
  return { id: `seed-${index}`, index, secret, history, prompt: f.prompt, wordList: f.word_list };
}

/** Parse and check `past_guess_history` against the secret. */
export function parseHistory(index: number, literal: string, secret: string): HistoryEntry[] {
  let value: ReturnType<typeof parsePythonLiteral>;
  try {
    value = parsePythonLiteral(literal);
  } catch (e) {
    throw new Error(`row ${index}: past_guess_history: ${(e as Error).message}`);
  }
  if (!Array.isArray(value)) throw new Error(`row ${index}: past_guess_history must be a list`);
  return value.map((turn, t) => {
    const where = `row ${index}: past_guess_history[${t}]`;
    if (
      !Array.isArray(turn) ||
      turn.length !== 2 ||
      typeof turn[0] !== "string" ||
      typeof turn[1] !== "string"
    ) {
      throw new Error(`${where} must be a [guess, feedback] pair of strings`);
    }
    const [guessText, feedbackText] = turn;
    const guess = guessText.trim().toLowerCase();
    if (!/^[a-z]{5}$/.test(guess))
      throw new Error(`${where}: guess must be 5 letters, got ${JSON.stringify(guessText)}`);
    if (guess === secret) throw new Error(`${where}: the history already contains the secret (game solved)`);
    let parsed: ReturnType<typeof parseFeedback>;
    try {
      parsed = parseFeedback(feedbackText);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`);
    }
    if (parsed.guess !== guess) {
      throw new Error(
        `${where}: feedback letters ${parsed.guess.toUpperCase()} do not spell the guess ${guess.toUpperCase()}`,
      );
    }
    const expected = scoreGuess(guess, secret);
    if (expected.join() !== parsed.feedback.join()) {
      throw new Error(
        `${where}: feedback ${JSON.stringify(feedbackText)} differs from scoring ${guess.toUpperCase()} against ` +
          `${secret.toUpperCase()}: ${renderFeedback(guess, expected, "dataset")}`,
      );
    }
    return { guess, feedback: parsed.feedback };
  });
}
