import type { GuessPolicy, PolicyMove } from "../eval/policy.js";
import type { Rng } from "../util/rng.js";
import { candidates, type HistoryEntry } from "../wordle/candidates.js";
import { loadWordLists } from "../wordle/words.js";

/**
 * The made-up player of the dashboard's demo. With probability `skill` its guess respects every
 * feedback so far, otherwise it is any answer; now and then (less as skill grows) it writes a
 * scrambled word, as an early model does. It only chooses words: the games it plays are judged
 * and scored by the evaluation a real run uses (eval/play-games.ts).
 */

const OPENERS = ["crane", "slate", "raise", "adieu", "stare", "roate"];

export class DemoPlayer {
  private readonly answers = loadWordLists().answers;
  /** Answers consistent with a history, by history: the training prompts' histories recur every step. */
  private readonly consistent = new WeakMap<readonly HistoryEntry[], string[]>();

  constructor(private readonly rng: Rng) {}

  /** A move for a position: the completion's text and the guess in it. */
  move(history: readonly HistoryEntry[], skill: number): PolicyMove {
    const guess = this.guess(history, skill);
    const last = history.at(-1);
    const thought = last
      ? `${last.guess.toUpperCase()} ruled out some letters; try new ones.`
      : "No feedback yet: start with common letters.";
    return { completion: `${thought}</think>\n<guess>${guess.toUpperCase()}</guess>`, guess };
  }

  /** The player as an evaluation policy, at a fixed skill. */
  policy(skill: number): GuessPolicy {
    return {
      name: "demo player",
      next: async (states) => states.map((state) => this.move(state.history, skill)),
    };
  }

  private guess(history: readonly HistoryEntry[], skill: number): string {
    // The opener is the move a model practises most: always a real word, so every board starts with one.
    if (history.length === 0) return this.rng.pick(OPENERS);
    if (this.rng.next() < 0.15 * (1 - skill))
      return this.rng.shuffle([...this.rng.pick(this.answers)]).join("");
    if (this.rng.next() >= skill) return this.rng.pick(this.answers);
    let words = this.consistent.get(history);
    if (words === undefined) {
      words = candidates(history, this.answers);
      this.consistent.set(history, words);
    }
    return this.rng.pick(words);
  }
}
