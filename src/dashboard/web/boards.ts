import type { EvalGame, GuessRecord, SampleRow } from "../shared/protocol.js";
import type { RunData } from "../shared/run-data.js";
import { formatNumber, h } from "./format.js";

const MARK_CLASS: Record<string, string> = { c: "correct", p: "present", a: "absent" };
const MARK_NAME: Record<string, string> = { c: "green", p: "yellow", a: "grey" };

/** One row of five tiles; an invalid guess is drawn with its letters on a struck-through red row. */
function guessRow(guess: GuessRecord): HTMLElement {
  const letters = guess.word.toUpperCase().padEnd(5, " ").slice(0, 5).split("");
  const invalid = guess.feedback === null || guess.invalid === true;
  const why = guess.invalid_kind ? ` (${guess.invalid_kind})` : "";
  const description = invalid
    ? `${guess.word.toUpperCase() || "(no guess)"}: not a valid guess${why}`
    : `${guess.word.toUpperCase()}: ${[...(guess.feedback ?? "")].map((m) => MARK_NAME[m]).join(", ")}`;
  // Hovering a row shows what the model wrote for that turn, when the evaluation logged it.
  const title = guess.completion ? `${description}\n\n${guess.completion}` : description;
  return h(
    "div",
    { class: `board-row${invalid ? " invalid" : ""}`, title },
    ...letters.map((letter, i) =>
      h(
        "span",
        { class: `tile ${invalid ? "invalid" : MARK_CLASS[guess.feedback?.[i] ?? "a"]}` },
        letter.trim(),
      ),
    ),
  );
}

function emptyRow(): HTMLElement {
  return h(
    "div",
    { class: "board-row" },
    ...Array.from({ length: 5 }, () => h("span", { class: "tile empty" })),
  );
}

/** A finished evaluation game as a Wordle board: six rows, coloured tiles, secret and result below. */
export function renderBoard(game: EvalGame): HTMLElement {
  const rows = game.guesses.slice(0, 6).map(guessRow);
  while (rows.length < 6) rows.push(emptyRow());
  return h(
    "figure",
    { class: `board ${game.won ? "won" : "lost"}` },
    ...rows,
    h(
      "figcaption",
      {},
      h("span", { class: "secret" }, game.secret.toUpperCase()),
      h(
        "span",
        { class: `result ${game.won ? "won" : "lost"}` },
        game.won ? `won in ${game.guesses.length}` : "lost",
      ),
    ),
  );
}

/** The games of one evaluation (chosen step, default the newest) of one run. */
export function renderBoards(
  run: RunData | undefined,
  step: number | null,
  pickStep: (s: number) => void,
): HTMLElement {
  if (!run || run.games.length === 0)
    return h("p", { class: "muted" }, "No evaluation games yet (eval-games.jsonl).");
  const steps = [...new Set(run.games.map((g) => g.step))].sort((a, b) => a - b);
  const shown = step !== null && steps.includes(step) ? step : steps[steps.length - 1];
  const games = run.games.filter((g) => g.step === shown);
  const wins = games.filter((g) => g.won);
  const meanGuesses = wins.length ? wins.reduce((s, g) => s + g.guesses.length, 0) / wins.length : null;
  const picker = h(
    "div",
    { class: "step-picker" },
    "evaluation at step ",
    ...steps.map((s) => {
      const button = h(
        "button",
        { class: s === shown ? "active" : "", type: "button" },
        s.toLocaleString("en-US"),
      );
      button.addEventListener("click", () => pickStep(s));
      return button;
    }),
    h(
      "span",
      { class: "muted" },
      ` — ${wins.length}/${games.length} won${meanGuesses === null ? "" : `, ${formatNumber(meanGuesses, 3)} guesses per win`}`,
    ),
  );
  return h("div", {}, picker, h("div", { class: "boards" }, ...games.map(renderBoard)));
}

function historyTiles(history: GuessRecord[] | undefined): HTMLElement {
  if (!history || history.length === 0) return h("span", { class: "muted" }, "first turn");
  return h("div", { class: "mini-board" }, ...history.map(guessRow));
}

/** The newest sample completions with their rewards (text shown verbatim, never as HTML). */
export function renderSamples(run: RunData | undefined, limit: number): HTMLElement {
  if (!run || run.samples.length === 0) return h("p", { class: "muted" }, "No samples yet (samples.jsonl).");
  const rows = run.samples.slice(-limit).reverse();
  const rewardNames = [...new Set(rows.flatMap((s) => Object.keys(s.rewards ?? {})))];
  return h(
    "table",
    { class: "samples" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ...["step", "secret", "history", "completion", "guess", "reward", ...rewardNames].map((t) =>
          h("th", {}, t),
        ),
      ),
    ),
    h(
      "tbody",
      {},
      ...rows.map((s: SampleRow) =>
        h(
          "tr",
          { class: "sample" },
          h("td", { class: "num" }, s.step.toLocaleString("en-US")),
          h("td", { class: "word" }, (s.secret ?? "").toUpperCase()),
          h("td", {}, historyTiles(s.history)),
          h("td", {}, h("pre", { class: "completion" }, s.completion ?? "")),
          h("td", { class: "word" }, s.guess ? s.guess.toUpperCase() : "(none)"),
          h("td", { class: `num reward ${(s.reward ?? 0) >= 0 ? "pos" : "neg"}` }, formatNumber(s.reward, 3)),
          ...rewardNames.map((name) => h("td", { class: "num" }, formatNumber(s.rewards?.[name], 3))),
        ),
      ),
    ),
  );
}
