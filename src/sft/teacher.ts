/**
 * Teacher games for supervised training: a policy (or a random mix of policies, chosen afresh each
 * turn) plays a secret, and the model learns to imitate its guesses.
 *
 * Teachers:
 * - `random-consistent`: a uniformly random answer still consistent with the feedback (98.9% wins,
 *   about 4.0 guesses): every guess it makes is one the model can learn to make from the history.
 * - `entropy`: the greedy expected-information solver (deterministic; about 3.43 guesses).
 * - `random-word`: a uniformly random accepted word. It is NOISE: such turns are played (the game
 *   goes on from an unusual position, so the model sees states its teachers would never reach)
 *   but never learned (`learn: false`), so the model learns to recover, not to guess at random.
 *
 * A mix is written `mix:random-consistent=0.8,random-word=0.2` (weights are normalised).
 *
 * `branch:random-consistent=P`: the entropy solver plays, and at each turn the game leaves its path
 * with probability P; random-consistent then plays the rest of the game. The model sees the
 * solver's moves on its own tree (where greedy decoding picks them: they are the most frequent
 * label there) and consistent moves at the positions off the tree, which the solver would
 * otherwise have to score afresh (7-10 ms each) and which a model cannot learn from the 2,114
 * fixed games of the solver alone (docs/experiments.md).
 *
 * Games are played on the guess x answer pattern table, so a turn costs a row lookup and a filter.
 */

import type { Rng } from "../util/rng.js";
import type { CodedHistoryEntry } from "../wordle/candidates.js";
import { type PatternTable, patternTable } from "../wordle/pattern-table.js";
import { ALL_CORRECT, decodePattern, type Feedback } from "../wordle/score.js";
import { EntropyPolicy } from "../wordle/solver-entropy.js";
import { RandomConsistentPolicy } from "../wordle/solver-random.js";
import { loadWordLists } from "../wordle/words.js";

export type TeacherName = "random-consistent" | "entropy" | "random-word";
export const TEACHER_NAMES: readonly TeacherName[] = ["random-consistent", "entropy", "random-word"];

export interface TeacherWeight {
  teacher: TeacherName;
  weight: number;
}

/** The teachers of a spec, and whether a game branches off the entropy solver's path for good. */
export interface TeacherPlan {
  teachers: TeacherWeight[];
  branch: boolean;
}

/** One turn of a teacher game. */
export interface TeacherTurn {
  guess: string;
  feedback: Feedback;
  /** Whether the model is trained on this guess (false for noise turns). */
  learn: boolean;
  teacher: TeacherName;
}

function checkName(name: string, spec: string): TeacherName {
  if (!(TEACHER_NAMES as readonly string[]).includes(name))
    throw new Error(
      `teacher ${JSON.stringify(spec)}: unknown teacher ${JSON.stringify(name)}; expected one of ${TEACHER_NAMES.join(", ")}, or mix:NAME=WEIGHT,...`,
    );
  return name as TeacherName;
}

/**
 * Parse `random-consistent`, `entropy`, `mix:random-consistent=0.8,random-word=0.2` or
 * `branch:random-consistent=0.25`.
 */
export function parseTeacherSpec(spec: string): TeacherPlan {
  const text = spec.trim();
  if (text.startsWith("branch:")) {
    const [name, value, extra] = text
      .slice(7)
      .split("=")
      .map((s) => s.trim());
    const p = Number(value);
    if (name !== "random-consistent" || extra !== undefined || !(p > 0 && p < 1))
      throw new Error(
        `teacher ${JSON.stringify(spec)}: a branch is written branch:random-consistent=P with 0 < P < 1 (the chance, each turn, that the game leaves the entropy solver's path)`,
      );
    return {
      teachers: [
        { teacher: "entropy", weight: 1 - p },
        { teacher: "random-consistent", weight: p },
      ],
      branch: true,
    };
  }
  if (!text.startsWith("mix:")) {
    const teacher = checkName(text, spec);
    if (teacher === "random-word")
      throw new Error(
        `teacher ${JSON.stringify(spec)}: random-word is noise and is never learned; use it inside a mix, e.g. mix:random-consistent=0.8,random-word=0.2`,
      );
    return { teachers: [{ teacher, weight: 1 }], branch: false };
  }
  const parts = text
    .slice(4)
    .split(",")
    .filter((p) => p.trim() !== "");
  if (parts.length === 0) throw new Error(`teacher ${JSON.stringify(spec)}: a mix needs NAME=WEIGHT entries`);
  const out: TeacherWeight[] = [];
  for (const part of parts) {
    const [name, value, extra] = part.split("=").map((s) => s.trim());
    const weight = Number(value);
    if (extra !== undefined || value === undefined || !Number.isFinite(weight) || weight < 0)
      throw new Error(
        `teacher ${JSON.stringify(spec)}: entry ${JSON.stringify(part)} must be NAME=WEIGHT with a weight >= 0`,
      );
    const teacher = checkName(name, spec);
    if (out.some((t) => t.teacher === teacher))
      throw new Error(`teacher ${JSON.stringify(spec)}: ${teacher} appears twice`);
    out.push({ teacher, weight });
  }
  const total = out.reduce((s, t) => s + t.weight, 0);
  if (!(total > 0)) throw new Error(`teacher ${JSON.stringify(spec)}: the weights sum to 0`);
  if (out.every((t) => t.teacher === "random-word" || t.weight === 0))
    throw new Error(
      `teacher ${JSON.stringify(spec)}: a mix needs a teacher that is learned (not only random-word)`,
    );
  return { teachers: out.map((t) => ({ teacher: t.teacher, weight: t.weight / total })), branch: false };
}

/** Plays teacher games on the pattern table of the 12,972 accepted words x 2,315 answers. */
export class TeacherGames {
  readonly table: PatternTable;
  private readonly entropy: EntropyPolicy | null;
  private readonly allAnswers: number[];

  readonly teachers: readonly TeacherWeight[];
  private readonly branch: boolean;

  constructor(
    plan: TeacherPlan,
    readonly maxTurns = 6,
  ) {
    this.teachers = plan.teachers;
    this.branch = plan.branch;
    const lists = loadWordLists();
    this.table = patternTable(lists.allowed, lists.answers);
    this.allAnswers = this.table.answers.map((_, i) => i);
    this.entropy = this.teachers.some((t) => t.teacher === "entropy" && t.weight > 0)
      ? new EntropyPolicy(this.table, {
          opener: null,
          pool: this.table.guesses.map((_, g) => g),
          hard: false,
        })
      : null;
  }

  private pickTeacher(rng: Rng): TeacherName {
    if (this.teachers.length === 1) return this.teachers[0].teacher;
    let u = rng.next();
    for (const t of this.teachers) {
      u -= t.weight;
      if (u < 0) return t.teacher;
    }
    return this.teachers[this.teachers.length - 1].teacher;
  }

  /** One game against `secret` (a lowercase answer); all randomness comes from `rng`. */
  play(secret: string, rng: Rng): TeacherTurn[] {
    const { table } = this;
    const answer = table.answerIndex.get(secret);
    if (answer === undefined) throw new Error(`teacher game: ${JSON.stringify(secret)} is not an answer`);
    const n = table.answers.length;
    const randomConsistent = new RandomConsistentPolicy(rng, null);
    let candidates = this.allAnswers;
    const history: CodedHistoryEntry[] = [];
    const turns: TeacherTurn[] = [];
    let branchedOff = false;
    while (turns.length < this.maxTurns) {
      const teacher = branchedOff ? "random-consistent" : this.pickTeacher(rng);
      if (this.branch && teacher !== "entropy") branchedOff = true;
      const state = { table, history, candidates };
      const row =
        teacher === "entropy"
          ? (this.entropy as EntropyPolicy).choose(state)
          : teacher === "random-consistent"
            ? randomConsistent.choose(state)
            : rng.int(table.guesses.length);
      const code = table.codes[row * n + answer];
      const guess = table.guesses[row];
      turns.push({ guess, feedback: decodePattern(code), learn: teacher !== "random-word", teacher });
      if (code === ALL_CORRECT) break;
      history.push({ guess, code });
      candidates = candidates.filter((a) => table.codes[row * n + a] === code);
    }
    return turns;
  }
}
