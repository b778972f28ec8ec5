/**
 * Word lists the reward presets judge guesses against.
 *
 * - The course dictionary: data/predibase-five_letter_words.csv, the file the seed dataset's
 *   `word_list` URL points at (12,920 words: the 12,972 accepted words minus 53 offensive ones,
 *   plus "luved"; header `Word`, upper case). Used by the `seed` and `course` presets, because it is
 *   the list the original system and the course loaded.
 * - The Wordle lists from src/wordle/words.ts (2,315 answers, 12,972 accepted): used by `exact`.
 */
import { readFileSync } from "node:fs";
import { dataPath } from "../paths.js";
import { parseCsv } from "./csv.js";

export const COURSE_DICTIONARY_FILE = "predibase-five_letter_words.csv";

export interface Dictionary {
  /** Lowercase words in file order. */
  words: string[];
  set: Set<string>;
}

let courseDictionary: Dictionary | undefined;

/** The course dictionary (lowercased), read once. Throws naming the line of a bad word. */
export function loadCourseDictionary(): Dictionary {
  if (courseDictionary) return courseDictionary;
  const path = dataPath(COURSE_DICTIONARY_FILE);
  const table = parseCsv(readFileSync(path, "utf8"), path);
  if (!table.header.includes("Word")) throw new Error(`${path}: expected a header column "Word"`);
  const words = table.records.map((record, i) => {
    const word = record.Word.trim().toLowerCase();
    if (!/^[a-z]{5}$/.test(word)) {
      throw new Error(
        `${path}: line ${table.lines[i]}: expected a 5-letter word, got ${JSON.stringify(record.Word)}`,
      );
    }
    return word;
  });
  courseDictionary = { words, set: new Set(words) };
  return courseDictionary;
}
