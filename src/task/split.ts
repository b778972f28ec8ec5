/**
 * Deterministic splits. Both shuffle with the project's seedable Rng and return each part in its
 * original order, so a split is a pure function of (items, seed) and diffs stay readable.
 */
import { Rng } from "../util/rng.js";
import { loadWordLists } from "../wordle/words.js";

export interface TrainValidationSplit<T> {
  train: T[];
  validation: T[];
}

/**
 * Split rows into train and validation by seed; validation gets round(n * fraction) rows
 * (75 valid seed rows at 0.2 -> 60 train / 15 validation).
 */
export function splitTrainValidation<T>(
  rows: readonly T[],
  seed: number,
  validationFraction = 0.2,
): TrainValidationSplit<T> {
  if (!(validationFraction >= 0 && validationFraction <= 1)) {
    throw new Error(`split: validationFraction must be in [0, 1], got ${validationFraction}`);
  }
  const order = new Rng(seed).shuffle(rows.map((_, i) => i));
  const validationCount = Math.round(rows.length * validationFraction);
  const isValidation = new Set(order.slice(0, validationCount));
  const train: T[] = [];
  const validation: T[] = [];
  rows.forEach((row, i) => {
    (isValidation.has(i) ? validation : train).push(row);
  });
  return { train, validation };
}

export interface SecretSplit {
  /** Secrets training may use. */
  train: string[];
  /** Secrets kept for evaluation only; generateStates({ heldOut }) never draws them. */
  heldOut: string[];
}

/** Hold out `heldOutCount` secrets (default pool: the 2,315 answers), chosen by seed. */
export function splitSecrets(
  seed: number,
  heldOutCount: number,
  pool: readonly string[] = loadWordLists().answers,
): SecretSplit {
  if (!Number.isInteger(heldOutCount) || heldOutCount < 0 || heldOutCount >= pool.length) {
    throw new Error(
      `splitSecrets: heldOutCount must be an integer in 0..${pool.length - 1}, got ${heldOutCount}`,
    );
  }
  const { train, validation } = splitTrainValidation(pool, seed, heldOutCount / pool.length);
  return { train, heldOut: validation };
}
