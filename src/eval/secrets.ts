/**
 * Which secrets an evaluation plays.
 *
 * - "all": the 2,315 answers, the standard solver benchmark. A trained model has seen most of
 *   them as training secrets, so this measures skill on the training distribution.
 * - "held-out": secrets no training run may use, to measure generalisation. They are drawn once,
 *   with a FIXED seed (not the training seed), from the answers minus the seed dataset's secrets,
 *   so runs with different training seeds are compared on the same words. The first
 *   HELD_OUT_RESERVE of that seeded order are reserved; an evaluation of `count` secrets takes the
 *   first `count` of them (nested: the default 100 of the in-training evaluation are inside the 200
 *   that the generalisation figure uses), plus FROST, the word the original project demonstrated
 *   on, which is reserved as well.
 * - a custom list (a file or words on the command line), each word one of the 2,315 answers.
 *
 * Training must draw secrets with `generateStates({ heldOut: reservedSecrets() })` (or from
 * `trainingSecrets()`); a test checks that the two never meet.
 */
import { readFileSync } from "node:fs";
import { loadSeedDataset } from "../task/seed-dataset.js";
import { splitSecrets } from "../task/split.js";
import { loadWordLists } from "../wordle/words.js";

/** Seed of the held-out draw: fixed, independent of any training seed. */
export const HELD_OUT_SEED = 20_315;
/** Secrets reserved from training (FROST comes on top). */
export const HELD_OUT_RESERVE = 200;
/** Held-out secrets of the evaluation during training (the training plan's 100, plus FROST). */
export const DEFAULT_TRAINING_EVAL_SECRETS = 100;
export const FROST = "frost";

/** Secrets of the seed dataset (all rows, training and validation): never held out. */
export function seedDatasetSecrets(): Set<string> {
  return new Set(loadSeedDataset().rows.map((row) => row.secret.toLowerCase()));
}

let cachedOrder: string[] | undefined;

/** The reserve, in the (alphabetical) order splitSecrets returns; FROST excluded. */
function reserveOf(count: number): string[] {
  const seedSecrets = seedDatasetSecrets();
  const pool = loadWordLists().answers.filter((w) => w !== FROST && !seedSecrets.has(w));
  return splitSecrets(HELD_OUT_SEED, count, pool).heldOut;
}

export interface HeldOutOptions {
  /** Held-out secrets besides FROST, at most HELD_OUT_RESERVE (default 100). */
  count?: number;
  /** Play FROST too (default true); it comes first, so a limit keeps it. */
  includeFrost?: boolean;
}

/** The held-out evaluation secrets (see the file comment). */
export function heldOutSecrets(options: HeldOutOptions = {}): string[] {
  const count = options.count ?? DEFAULT_TRAINING_EVAL_SECRETS;
  if (!Number.isInteger(count) || count < 0 || count > HELD_OUT_RESERVE) {
    throw new Error(
      `held-out secrets: count must be an integer in 0..${HELD_OUT_RESERVE} (only ${HELD_OUT_RESERVE} ` +
        `secrets, plus FROST, are reserved from training), got ${count}`,
    );
  }
  const words = count === HELD_OUT_RESERVE ? reserveAll() : reserveOf(count);
  return options.includeFrost === false ? words : [FROST, ...words];
}

function reserveAll(): string[] {
  cachedOrder ??= reserveOf(HELD_OUT_RESERVE);
  return [...cachedOrder];
}

/** Every secret training must never use: the whole reserve plus FROST. */
export function reservedSecrets(): Set<string> {
  return new Set([FROST, ...reserveAll()]);
}

/** The answers training may use as secrets. */
export function trainingSecrets(): string[] {
  const reserved = reservedSecrets();
  return loadWordLists().answers.filter((w) => !reserved.has(w));
}

/** Check custom secrets: lowercase, each one of the 2,315 answers; `where(i)` names an entry. */
export function checkSecrets(words: readonly string[], where: (i: number) => string): string[] {
  const { answerSet } = loadWordLists();
  return words.map((raw, i) => {
    const word = raw.trim().toLowerCase();
    if (!answerSet.has(word)) {
      throw new Error(
        `${where(i)}: ${JSON.stringify(raw)} is not one of the 2,315 Wordle answers (secrets must be answers)`,
      );
    }
    return word;
  });
}

/** Words of a list file: one or more per line, separated by spaces or commas; `#` starts a comment. */
export function readSecretsFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(`secrets file ${path}: cannot read it (${(e as Error).message})`);
  }
  const words: string[] = [];
  const lines: number[] = [];
  text.split("\n").forEach((line, i) => {
    for (const word of line.replace(/#.*/, "").split(/[\s,]+/)) {
      if (word === "") continue;
      words.push(word);
      lines.push(i + 1);
    }
  });
  if (words.length === 0) throw new Error(`secrets file ${path}: no words in it`);
  return checkSecrets(words, (i) => `secrets file ${path}, line ${lines[i]}`);
}

export interface EvalSet {
  /** "all", "held-out", "list:<file>" or "words". */
  name: string;
  secrets: string[];
}

export interface ResolveSetOptions {
  /** Held-out secrets besides FROST (default HELD_OUT_RESERVE: the generalisation figure). */
  heldOutCount?: number;
  includeFrost?: boolean;
}

/** Read an evaluation-set spec: all | held-out | list:FILE | words:a,b,c. */
export function resolveEvalSet(spec: string, options: ResolveSetOptions = {}): EvalSet {
  if (spec === "all") return { name: "all", secrets: [...loadWordLists().answers] };
  if (spec === "held-out") {
    return {
      name: "held-out",
      secrets: heldOutSecrets({
        count: options.heldOutCount ?? HELD_OUT_RESERVE,
        includeFrost: options.includeFrost,
      }),
    };
  }
  if (spec.startsWith("list:") && spec.length > 5) {
    return { name: spec, secrets: readSecretsFile(spec.slice(5)) };
  }
  if (spec.startsWith("words:")) {
    const words = spec
      .slice(6)
      .split(",")
      .filter((w) => w.trim() !== "");
    if (words.length === 0) throw new Error("--set words: give at least one word, e.g. words:frost,crane");
    return { name: "words", secrets: checkSecrets(words, (i) => `--set words: word ${i + 1}`) };
  }
  throw new Error(`--set must be all, held-out, list:FILE or words:a,b,c; got ${JSON.stringify(spec)}`);
}
