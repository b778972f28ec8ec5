/**
 * Public API of the wordle-grpo package. Each area re-exports its own surface here.
 */
export {
  ALL_CORRECT,
  PATTERN_COUNT,
  decodePattern,
  encodePattern,
  patternCode,
  scoreGuess,
} from "./wordle/score.js";
export type { Feedback, LetterMark } from "./wordle/score.js";
export { loadWordLists } from "./wordle/words.js";
export type { AllowedListName, WordLists } from "./wordle/words.js";
