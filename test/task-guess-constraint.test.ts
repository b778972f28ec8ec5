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

test("legal guess text: letters of a word, then the closing tag, then anything", () => {
  for (const inside of [
    "",
    "cr",
    "crane",
    "CRANE",
    "CRANE</GUESS>",
    "crane<",
    "crane</gue",
    "crane</guess>",
    "crane</guess> and more",
  ])
    assert.ok(legalGuessText(inside, words), JSON.stringify(inside));
  for (const inside of [
    " ",
    "cr ",
    "crab",
    "cranes",
    "crane ",
    "crane<g",
    "crane</guest>",
    "crane</guess ",
    "CRAne",
    "Crane",
  ])
    assert.ok(!legalGuessText(inside, words), JSON.stringify(inside));
});

/** A tokenizer-like table with multi-character tokens, as BPE vocabularies have. */
function table(texts: string[]): TokenTexts {
  return { texts, closers: texts.flatMap((t, id) => (t.includes(">") ? [id] : [])) };
}
const bpe = table([
  "<guess>",
  ">cr",
  "<gu",
  "ess",
  "ane",
  "ate",
  "cr",
  "ne</",
  "guess>",
  "ost",
  "fr",
  "x",
  "</guess>",
  "e",
  "<",
]);
// "ne</" joins the last letters and the tag: after "<guess>cra" it is legal.
const ids = (...texts: string[]) => texts.map((t) => bpe.texts.indexOf(t));
const allowed = (filter: ReturnType<typeof nextGuessTokens>) =>
  filter !== null && "allow" in filter ? filter.allow.map((id) => bpe.texts[id]).sort() : filter;

test("inside a guess only tokens that keep it on the way to a listed word are allowed", () => {
  assert.deepEqual(allowed(nextGuessTokens(bpe, ids("<guess>"), words)), ["cr", "fr"]);
  assert.deepEqual(allowed(nextGuessTokens(bpe, ids("<guess>", "cr"), words)), ["ane", "ate"]);
  assert.deepEqual(allowed(nextGuessTokens(bpe, ids("<guess>", "fr"), words)), ["ost"]);
  const withCra = table([...bpe.texts, "cra"]);
  const cra = [withCra.texts.indexOf("<guess>"), withCra.texts.indexOf("cra")];
  const afterCra = nextGuessTokens(withCra, cra, words);
  assert.ok(afterCra !== null && "allow" in afterCra);
  assert.deepEqual(afterCra.allow.map((id) => withCra.texts[id]).sort(), ["ne</"]);
  assert.deepEqual(allowed(nextGuessTokens(bpe, ids("<guess>", "cr", "ane"), words)), ["<", "</guess>"]);
  assert.equal(nextGuessTokens(bpe, ids("<guess>", "cr", "ane", "</guess>"), words), null, "closed: free");
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
  const withCr = table([...bpe.texts, "guess>cr", "guess>zz"]);
  const blocked = nextGuessTokens(withCr, [withCr.texts.indexOf("<")], words);
  assert.deepEqual(blocked, { block: [withCr.texts.indexOf("guess>zz")] });
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
  assert.deepEqual(allowed(nextGuessTokens(bpe, ids("<gu"), words, true)), ["e", "ess"]);
  const withTagAndWord = table([...bpe.texts, "<guess>cr", "<guess>zz"]);
  const start = nextGuessTokens(withTagAndWord, [], words, true);
  assert.ok(start !== null && "allow" in start);
  assert.ok(start.allow.includes(withTagAndWord.texts.indexOf("<guess>cr")));
  assert.ok(!start.allow.includes(withTagAndWord.texts.indexOf("<guess>zz")));
  assert.deepEqual(
    allowed(nextGuessTokens(bpe, ids("<guess>"), words, true)),
    ["cr", "fr"],
    "then as before",
  );
});
