/**
 * Cheap shape checks for run-file rows (docs/run-files.md). Each returns null when the row is
 * usable, else a message saying which field is wrong and what was expected. They check only what
 * the dashboard relies on, and are hand-written rather than schema-driven because metrics.jsonl
 * can hold 100,000 rows that must load in well under a second.
 */

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function checkStep(value: Record<string, unknown>): string | null {
  const step = value.step;
  if (typeof step !== "number" || !Number.isFinite(step) || step < 0) {
    return `expected "step" to be a number >= 0, got ${JSON.stringify(step)}`;
  }
  return null;
}

export function checkMetricsRow(value: unknown): string | null {
  if (!isObject(value)) return "expected a JSON object";
  return checkStep(value);
}

export function checkSampleRow(value: unknown): string | null {
  if (!isObject(value)) return "expected a JSON object";
  const stepError = checkStep(value);
  if (stepError) return stepError;
  if (value.rewards !== undefined && !isObject(value.rewards)) {
    return `expected "rewards" to be an object of numbers, got ${JSON.stringify(value.rewards)}`;
  }
  if (value.history !== undefined) return checkGuesses(value.history, "history");
  return null;
}

const FEEDBACK = /^[cpa]{5}$/;

function checkGuesses(value: unknown, field: string): string | null {
  if (!Array.isArray(value)) return `expected "${field}" to be an array of {word, feedback}`;
  for (let i = 0; i < value.length; i++) {
    const g = value[i];
    if (!isObject(g) || typeof g.word !== "string") {
      return `expected ${field}[${i}] to be {word: string, feedback: string|null}`;
    }
    if (g.feedback !== null && (typeof g.feedback !== "string" || !FEEDBACK.test(g.feedback))) {
      return `expected ${field}[${i}].feedback to be 5 letters of c/p/a (or null), got ${JSON.stringify(g.feedback)}`;
    }
  }
  return null;
}

export function checkEvalGame(value: unknown): string | null {
  if (!isObject(value)) return "expected a JSON object";
  const stepError = checkStep(value);
  if (stepError) return stepError;
  if (typeof value.secret !== "string") return `expected "secret" to be a string`;
  if (typeof value.won !== "boolean") return `expected "won" to be true or false`;
  return checkGuesses(value.guesses, "guesses");
}
