/**
 * Evaluation results for people (a compact console table) and for tools (metrics.jsonl eval rows
 * and eval-games.jsonl lines, as docs/run-files.md defines them).
 */
import type { EvalSummary } from "./aggregate.js";
import { type BaselineResult, referenceLine } from "./baselines.js";
import type { EvaluationReport } from "./evaluate.js";
import type { GameResult } from "./game-record.js";

export interface TableRow {
  label: string;
  summary: EvalSummary;
}

const percent = (x: number | null): string => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
const fixed = (x: number | null, digits: number): string => (x === null ? "-" : x.toFixed(digits));

/** Games won in 1, 2, ... turns, then lost: "0 4 40 41 11 3 | 1". */
function distributionText(summary: EvalSummary): string {
  const won = Object.keys(summary.distribution)
    .filter((k) => k !== "fail")
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => String(summary.distribution[k]));
  return `${won.join(" ")} | ${summary.distribution.fail}`;
}

/**
 * A fixed-width table, one row per player:
 *   player | games | win rate | mean guesses (wins) | invalid | consistent | dead letters | won in 1..6 | lost
 */
export function formatEvalTable(
  title: string,
  rows: readonly TableRow[],
  options: { reference?: boolean } = {},
): string {
  const header = [
    "player",
    "games",
    "win rate",
    "mean guesses",
    "invalid",
    "consistent",
    "dead-letter",
    "won in 1..6 | lost",
  ];
  const cells = rows.map(({ label, summary: s }) => [
    label,
    String(s.games),
    percent(s.winRate),
    fixed(s.meanGuesses, 3),
    percent(s.invalidRate),
    percent(s.consistentRate),
    percent(s.deadLetterReuseRate),
    distributionText(s),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  // First and last columns are text (left-aligned); the numbers are right-aligned.
  const line = (row: readonly string[]) =>
    row
      .map((cell, c) => (c === 0 || c === row.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join("  ")
      .trimEnd();
  const out = [title, line(header), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)];
  if (options.reference ?? true) out.push(referenceLine());
  return out.join("\n");
}

/**
 * The console view of an evaluation: one table per set with the policy, optional earlier results
 * for the same sets (e.g. the start model: "before"), and the solver baselines.
 */
export function formatReport(
  report: EvaluationReport,
  options: { before?: EvaluationReport; label?: string; beforeLabel?: string } = {},
): string {
  const tables = report.sets.map((set) => {
    const rows: TableRow[] = [];
    const before = options.before?.sets.find((s) => s.set === set.set);
    if (before)
      rows.push({
        label: options.beforeLabel ?? `${options.before?.policy} (before)`,
        summary: before.summary,
      });
    rows.push({
      label: options.label ?? (before ? `${report.policy} (after)` : report.policy),
      summary: set.summary,
    });
    for (const b of set.baselines) rows.push({ label: b.label, summary: b.summary });
    const decoding = report.decoding ? `, ${report.decoding}` : "";
    return formatEvalTable(`Evaluation on ${set.set} (${set.summary.games} secrets${decoding})`, rows, {
      reference: false,
    });
  });
  return [...tables, referenceLine()].join("\n\n");
}

/**
 * The `eval/` keys of a metrics.jsonl eval row for one evaluation (the trainer adds `step` and
 * `eval/reward`); baselines become `eval/baseline/<solver>/win_rate` and `.../mean_guesses`.
 */
export function evalMetrics(
  summary: EvalSummary,
  baselines: readonly BaselineResult[] = [],
): Record<string, number | null> {
  const row: Record<string, number | null> = {
    "eval/win_rate": summary.winRate,
    "eval/mean_guesses": summary.meanGuesses,
    "eval/invalid_rate": summary.invalidRate,
    "eval/games": summary.games,
    "eval/consistent_rate": summary.consistentRate,
    "eval/dead_letter_reuse_rate": summary.deadLetterReuseRate,
  };
  for (const b of baselines) {
    row[`eval/baseline/${b.solver}/win_rate`] = b.summary.winRate;
    row[`eval/baseline/${b.solver}/mean_guesses`] = b.summary.meanGuesses;
  }
  return row;
}

/** One eval-games.jsonl object per game. */
export interface EvalGameLine {
  step: number;
  secret: string;
  won: boolean;
  turns: number;
  guesses: {
    /** The guess read from the completion, lowercase; "" when none could be read. */
    word: string;
    feedback: string | null;
    invalid?: true;
    /** Why it was invalid: unparseable, format, not-a-word, hard-mode. */
    invalid_kind?: string;
    /** The completion (an excerpt when long). */
    completion?: string;
  }[];
}

/** Games as eval-games.jsonl lines (docs/run-files.md); completions kept unless told otherwise. */
export function evalGameLines(
  step: number,
  games: readonly GameResult[],
  options: { completions?: boolean } = {},
): EvalGameLine[] {
  const keep = options.completions ?? true;
  return games.map((game) => ({
    step,
    secret: game.secret,
    won: game.won,
    turns: game.turns,
    guesses: game.guesses.map((g) => ({
      word: g.word ?? "",
      feedback: g.feedback,
      ...(g.valid ? {} : { invalid: true as const, invalid_kind: g.invalid }),
      ...(keep ? { completion: g.completion } : {}),
    })),
  }));
}

/** The `--json` output of `wordle-grpo eval`: summaries and baselines per set (games left out). */
export function reportJson(report: EvaluationReport): Record<string, unknown> {
  return {
    policy: report.policy,
    decoding: report.decoding,
    sets: report.sets.map((s) => ({
      set: s.set,
      seconds: s.seconds,
      summary: s.summary,
      metrics: evalMetrics(s.summary, s.baselines),
      baselines: s.baselines.map((b) => ({ solver: b.solver, label: b.label, summary: b.summary })),
    })),
    reference: referenceLine(),
  };
}
