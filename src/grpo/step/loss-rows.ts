/**
 * The rows the loss is computed on. A completion is scored after its prompt: row = prompt ++
 * completion, and the log-probs of the completion's tokens enter the loss with its advantage.
 *
 * Multi-turn games make many such pairs share text: the prompt of turn k+1 starts with the prompt
 * of turn k followed by its completion (the guess is replayed into the history), so a game's last
 * row already contains every earlier turn at the very positions where it was generated. Causal
 * attention makes the log-prob of a token depend on its prefix only, so scoring the earlier turns
 * inside the last turn's row gives the same numbers as scoring each on its own row, for a fraction
 * of the tokens (a 5-turn game: one row of ~70 tokens instead of five rows summing to ~210).
 *
 * `packLossRows` places each item in a row whose sequence has the item's prompt ++ completion as a
 * prefix and whose positions for the completion are still free (two games that opened with the
 * same guess have identical first turns; each keeps its own positions, in its own game's row);
 * items that fit nowhere start a row. `oneRowPerItem` is the plain layout. Both give, per row and
 * per completion position, which tokens count, their advantage and their π_old / π_ref values.
 */

import type { TokenFilter } from "../../model/sampler.js";

/** One completion to score. */
export interface LossItem {
  promptIds: readonly number[];
  tokenIds: readonly number[];
  advantage: number;
  /** One advantage per completion token, overriding `advantage` (multi-turn "letter" credit). */
  tokenAdvantages?: readonly number[] | null;
  /** false: the completion is kept out of the loss (mask_truncated_completions). */
  counts: boolean;
  oldLogps: readonly number[] | null;
  refLogps: readonly number[] | null;
  /** Constrained decoding: the filter each token was drawn under (sampler.ts), else absent. */
  tokenFilters?: readonly (TokenFilter | null)[];
}

/**
 * A row: `prompt` then `completion` tokens; every array below is per completion position. Only
 * positions of an item's completion are scored (`scored` 1); `lossMask` adds the `counts` rule.
 */
export interface LossRow {
  prompt: number[];
  completion: number[];
  scored: number[];
  lossMask: number[];
  advantage: number[];
  oldLogps: number[];
  refLogps: number[];
  /** The filter each scored token was drawn under (null: unconstrained). */
  filters: (TokenFilter | null)[];
  /** The items scored in this row, by index. */
  items: number[];
}

function emptyRow(sequence: readonly number[], promptLength: number): LossRow {
  const n = sequence.length - promptLength;
  return {
    prompt: sequence.slice(0, promptLength),
    completion: sequence.slice(promptLength),
    scored: new Array(n).fill(0),
    lossMask: new Array(n).fill(0),
    advantage: new Array(n).fill(0),
    oldLogps: new Array(n).fill(0),
    refLogps: new Array(n).fill(0),
    filters: new Array(n).fill(null),
    items: [],
  };
}

/** Write item i into row at completion offset `offset` (its first token's index in row.completion). */
function place(row: LossRow, item: LossItem, i: number, offset: number): void {
  item.tokenIds.forEach((_, k) => {
    const at = offset + k;
    row.scored[at] = 1;
    row.lossMask[at] = item.counts ? 1 : 0;
    row.advantage[at] = item.tokenAdvantages?.[k] ?? item.advantage;
    row.oldLogps[at] = item.oldLogps?.[k] ?? 0;
    row.refLogps[at] = item.refLogps?.[k] ?? 0;
    row.filters[at] = item.tokenFilters?.[k] ?? null;
  });
  row.items.push(i);
}

export function oneRowPerItem(items: readonly LossItem[]): LossRow[] {
  return items.map((item, i) => {
    const row = emptyRow([...item.promptIds, ...item.tokenIds], item.promptIds.length);
    place(row, item, i, 0);
    return row;
  });
}

export function packLossRows(items: readonly LossItem[]): LossRow[] {
  if (items.some((it) => it.promptIds.length === 0))
    throw new Error("packLossRows: an empty prompt (a completion needs at least one token before it)");
  const sequences = items.map((it) => [...it.promptIds, ...it.tokenIds]);
  // Longest first: a row is opened by the longest sequence it will hold.
  const order = items.map((_, i) => i).sort((a, b) => sequences[b].length - sequences[a].length || a - b);
  const rows: { row: LossRow; sequence: number[] }[] = [];
  for (const i of order) {
    const item = items[i];
    const sequence = sequences[i];
    const start = item.promptIds.length;
    // Every open row's prompt is its first token and every item's prompt is longer, so the item's
    // completion always lies in a host row's scored region.
    const host = rows.find(
      (r) =>
        r.sequence.length >= sequence.length &&
        sequence.every((t, k) => r.sequence[k] === t) &&
        item.tokenIds.every((_, k) => r.row.scored[start - r.row.prompt.length + k] === 0),
    );
    if (host) {
      place(host.row, item, i, start - host.row.prompt.length);
    } else {
      // The row's "prompt" is its first token only, so any later item's completion lies inside the
      // scored region; positions before this item's completion stay unscored (trimmed below).
      const row = emptyRow(sequence, 1);
      place(row, item, i, start - row.prompt.length);
      rows.push({ row, sequence });
    }
  }
  return rows.map((r) => trimUnscoredLead(r.row));
}

/** Move the positions before a row's first scored token into its prompt: they need no log-probs. */
function trimUnscoredLead(row: LossRow): LossRow {
  const first = row.scored.indexOf(1);
  if (first <= 0) return row;
  return {
    prompt: [...row.prompt, ...row.completion.slice(0, first)],
    completion: row.completion.slice(first),
    scored: row.scored.slice(first),
    lossMask: row.lossMask.slice(first),
    advantage: row.advantage.slice(first),
    oldLogps: row.oldLogps.slice(first),
    refLogps: row.refLogps.slice(first),
    filters: row.filters.slice(first),
    items: row.items,
  };
}
