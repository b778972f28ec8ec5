import type { SampleRow } from "../row-types.js";

/**
 * The text TensorBoard shows (its text plugin renders markdown): a table of a few sample
 * completions per logged step, as TRL's log_completions does, and the run's config.
 */

/** Completions shown per logged step: the first ones of the batch, i.e. one prompt's group side by side. */
export const SAMPLES_SHOWN = 4;

/**
 * Make text safe inside a table cell: completions hold `<guess>` tags, pipes and newlines, which
 * would otherwise become HTML, split the cell, or end the row.
 */
export function tableCell(text: string): string {
  return text
    .replace(/[\\`*_[\]|]/g, (c) => `\\${c}`)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replace(/\r?\n/g, "<br>");
}

const formatNumber = (value: number): string => (Number.isInteger(value) ? String(value) : value.toFixed(3));

function historyText(sample: SampleRow): string {
  if (sample.history.length === 0) return "(first guess)";
  return sample.history.map((g) => `${g.word} ${g.feedback ?? "(refused)"}`).join(", ");
}

export function samplesMarkdown(samples: readonly SampleRow[]): string {
  const lines = [
    "| secret | history | completion | guess | reward | rewards |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  for (const s of samples.slice(0, SAMPLES_SHOWN)) {
    const rewards = Object.entries(s.rewards)
      .map(([name, value]) => `${name} ${formatNumber(value)}`)
      .join(", ");
    const cells = [
      s.secret,
      historyText(s),
      s.completion,
      s.guess ?? "(none)",
      formatNumber(s.reward),
      rewards,
    ];
    lines.push(`| ${cells.map(tableCell).join(" | ")} |`);
  }
  if (samples.length > SAMPLES_SHOWN)
    lines.push("", `${SAMPLES_SHOWN} of ${samples.length} completions; samples.jsonl has them all.`);
  return lines.join("\n");
}

/** The config as an indented code block, so markdown shows the JSON verbatim. */
export function configMarkdown(config: Record<string, unknown>): string {
  return JSON.stringify(config, null, 2)
    .split("\n")
    .map((line) => `    ${line}`)
    .join("\n");
}
