import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { loadTokenizer } from "../src/model/tokenizer.js";
import { MODELS_DIR } from "../src/paths.js";
import {
  constraintWords,
  legalGuessText,
  nextGuessTokens,
  type TokenTexts,
  tokenTexts,
  WordPrefixes,
} from "../src/task/guess-constraint.js";
import { parseGuess } from "../src/task/parse-guess.js";
import { Rng } from "../src/util/rng.js";
import { isConsistent } from "../src/wordle/candidates.js";
import { scoreGuess } from "../src/wordle/score.js";
import { loadWordLists } from "../src/wordle/words.js";

const words = new WordPrefixes(["crane", "crate", "frost", "FROTH"]);

test("prefix search over a sorted word list", () => {
  assert.equal(words.size, 4);
  for (const p of ["", "c", "cra", "cran", "crane", "crat", "fro", "froth"]) assert.ok(words.hasPrefix(p), p);
  for (const p of ["a", "crab", "cranes", "frosz", "zzzzz"]) assert.ok(!words.hasPrefix(p), p);
});

test("legal guess text: capitals of a word, then the closing tag (any case), then anything", () => {
  const legal = [
    "",
    "CR",
    "CRANE",
    "CRANE<",
    "CRANE</gue",
    "CRANE</guess>",
    "CRANE</GUESS>",
    "CRANE</guess> and more",
  ];
  for (const inside of legal) assert.ok(legalGuessText(inside, words), JSON.stringify(inside));
  const illegal = [
    " ",
    "CR ",
    "CRAB",
    "CRANES",
    "CRANE ",
    "CRANE<g",
    "CRANE</guest>",
    "CRANE</guess ",
    "cr",
    "crane",
    "CRAne",
  ];
  for (const inside of illegal) assert.ok(!legalGuessText(inside, words), JSON.stringify(inside));
});

/** A tokenizer-like table with multi-character tokens, as BPE vocabularies have. */
function table(texts: string[]): TokenTexts {
  return { texts, closers: texts.flatMap((t, id) => (t.includes(">") ? [id] : [])) };
}
// "NE</" joins the last letters and the tag: after "<guess>CRA" it is legal.
const bpe = table([
  "<guess>",
  ">CR",
  "<gu",
  "ess",
  "ANE",
  "ATE",
  "CR",
  "NE</",
  "guess>",
  "OST",
  "FR",
  "x",
  "</guess>",
  "E",
  "<",
  "e",
  "cr",
]);
const ids = (...texts: string[]) => texts.map((t) => bpe.texts.indexOf(t));
const allowed = (filter: ReturnType<typeof nextGuessTokens>) =>
  filter !== null && "allow" in filter ? filter.allow.map((id) => bpe.texts[id]).sort() : filter;

test("inside a guess only tokens that keep it on the way to a listed word are allowed", () => {
  assert.deepEqual(allowed(nextGuessTokens(bpe, ids("<guess>"), words)), ["CR", "FR"]);
  assert.deepEqual(allowed(nextGuessTokens(bpe, ids("<guess>", "CR"), words)), ["ANE", "ATE"]);
  assert.deepEqual(allowed(nextGuessTokens(bpe, ids("<guess>", "FR"), words)), ["OST"]);
  const withCra = table([...bpe.texts, "CRA"]);
  const cra = [withCra.texts.indexOf("<guess>"), withCra.texts.indexOf("CRA")];
  const afterCra = nextGuessTokens(withCra, cra, words);
  assert.ok(afterCra !== null && "allow" in afterCra);
  assert.deepEqual(afterCra.allow.map((id) => withCra.texts[id]).sort(), ["NE</"]);
  assert.deepEqual(allowed(nextGuessTokens(bpe, ids("<guess>", "CR", "ANE"), words)), ["<", "</guess>"]);
  assert.equal(nextGuessTokens(bpe, ids("<guess>", "CR", "ANE", "</guess>"), words), null, "closed: free");
});

test("outside a guess everything goes except a token that opens one with an illegal start", () => {
  assert.equal(nextGuessTokens(bpe, ids("x"), words), null);
  // "<gu" + "ess" has no ">" yet; then "guess>"-style closers are judged on what they open.
  assert.equal(nextGuessTokens(bpe, ids("<gu"), words), null);
  const filter = nextGuessTokens(bpe, ids("<gu", "e"), words);
  assert.equal(filter, null, "no token completes <gue + ... legally or not");
  const afterLt = nextGuessTokens(bpe, ids("x", "<"), words);
  // "<" + "guess>" opens an empty guess (legal); nothing else can open one here.
  assert.equal(afterLt, null);
  const withCr = table([...bpe.texts, "guess>CR", "guess>ZZ"]);
  const blocked = nextGuessTokens(withCr, [withCr.texts.indexOf("<")], words);
  assert.deepEqual(blocked, { block: [withCr.texts.indexOf("guess>ZZ")] });
});

test("consistent words are the accepted words that fit every feedback so far", () => {
  const { allowed: accepted } = loadWordLists();
  const history = [{ guess: "crane", feedback: scoreGuess("crane", "frost") }];
  const consistent = constraintWords("consistent", history, accepted);
  const valid = constraintWords("valid", history, accepted);
  assert.equal(constraintWords("none", history, accepted), null);
  assert.equal(valid?.size, accepted.length);
  const expected = accepted.filter((w) => isConsistent(w, history));
  assert.equal(consistent?.size, expected.length);
  assert.ok(consistent?.hasPrefix("frost") && !consistent.hasPrefix("crane") && !consistent.hasPrefix("a"));
});

test("random walks over the shipped tokenizer's allowed tokens always end in a consistent word", () => {
  const tokenizer = loadTokenizer(join(MODELS_DIR, "wordle-tiny"));
  const texts = tokenTexts(tokenizer);
  const { allowed: accepted } = loadWordLists();
  const history = [
    { guess: "slate", feedback: scoreGuess("slate", "frost") },
    { guess: "court", feedback: scoreGuess("court", "frost") },
  ];
  const consistent = constraintWords("consistent", history, accepted) as WordPrefixes;
  const rng = new Rng(7);
  const open = tokenizer.encode("<guess>");
  const seen = new Set<string>();
  for (let walk = 0; walk < 200; walk++) {
    const generated = [...open];
    for (let step = 0; step < 20; step++) {
      const filter = nextGuessTokens(texts, generated, consistent);
      if (filter === null) break;
      assert.ok("allow" in filter && filter.allow.length > 0, "never a dead end inside the guess");
      generated.push(filter.allow[rng.int(filter.allow.length)]);
    }
    const guess = parseGuess(tokenizer.decode(generated))?.toLowerCase();
    assert.ok(guess !== undefined && isConsistent(guess, history), `walk ${walk}: ${guess}`);
    seen.add(guess);
  }
  assert.ok(seen.has("frost") && seen.size > 1, `walks reach several consistent words: ${[...seen]}`);
});

test("a guess-only completion (tiny) must open with the tag: no text before <guess>", () => {
  assert.deepEqual(allowed(nextGuessTokens(bpe, [], words, true)), ["<", "<gu", "<guess>"]);
  assert.deepEqual(
    allowed(nextGuessTokens(bpe, ids("<gu"), words, true)),
    ["E", "e", "ess"],
    "tags in any case",
  );
  const withTagAndWord = table([...bpe.texts, "<guess>CR", "<guess>ZZ"]);
  const start = nextGuessTokens(withTagAndWord, [], words, true);
  assert.ok(start !== null && "allow" in start);
  assert.ok(start.allow.includes(withTagAndWord.texts.indexOf("<guess>CR")));
  assert.ok(!start.allow.includes(withTagAndWord.texts.indexOf("<guess>ZZ")));
  assert.deepEqual(
    allowed(nextGuessTokens(bpe, ids("<guess>"), words, true)),
    ["CR", "FR"],
    "then as before",
  );
});
