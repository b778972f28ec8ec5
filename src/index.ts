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
export { parseFeedback, renderFeedback } from "./wordle/feedback.js";
export type { FeedbackNotation, ParsedFeedback } from "./wordle/feedback.js";
export { candidates, candidatesCoded, encodeHistory, isConsistent } from "./wordle/candidates.js";
export type { CodedHistoryEntry, HistoryEntry } from "./wordle/candidates.js";
