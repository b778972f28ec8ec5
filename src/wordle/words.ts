import { readFileSync } from "node:fs";
import { dataPath } from "../paths.js";

/** Which accepted-guess list to use: the original 12,972 words or the later NYT 14,855. */
export type AllowedListName = "12972" | "14855";

export interface WordLists {
  /** The 2,315 original answers, lowercase, sorted. */
  answers: string[];
  /** Accepted guesses (answers included), lowercase, sorted. */
  allowed: string[];
  /** Fast membership test over `allowed`. */
  allowedSet: Set<string>;
  answerSet: Set<string>;
}

const FILES: Record<AllowedListName, string> = {
  "12972": "wordle-allowed.txt",
  "14855": "wordle-allowed-14855.txt",
};

/** Read a word file (one lowercase 5-letter word a line) and check every line. */
export function readWordFile(path: string): string[] {
  const words = readFileSync(path, "utf8")
    .split("\n")
    .map((w) => w.trim())
    .filter((w) => w.length > 0);
  words.forEach((w, i) => {
    if (!/^[a-z]{5}$/.test(w))
      throw new Error(`${path}: line ${i + 1} is not a 5-letter lowercase word: ${JSON.stringify(w)}`);
  });
  return words;
}

const cache = new Map<AllowedListName, WordLists>();

/** Load the word lists shipped in data/ (never from the network). Cached per list choice. */
export function loadWordLists(options: { allowed?: AllowedListName } = {}): WordLists {
  const which = options.allowed ?? "12972";
  const hit = cache.get(which);
  if (hit) return hit;
  const answers = readWordFile(dataPath("wordle-answers.txt"));
  const allowed = readWordFile(dataPath(FILES[which]));
  const lists: WordLists = { answers, allowed, allowedSet: new Set(allowed), answerSet: new Set(answers) };
  cache.set(which, lists);
  return lists;
}
