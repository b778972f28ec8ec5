import assert from "node:assert/strict";
import { test } from "node:test";
import { locateGuess, parseGuess } from "../src/task/parse-guess.js";
import { matchesCourseFormat } from "../src/task/rewards/common.js";

test("parseGuess: first <guess> tag, any case, spanning lines, labels stripped, A-Z only, upper case", () => {
  const cases: [unknown, string | null][] = [
    ["plan</think>\n<guess>CRANE</guess>", "CRANE"],
    ["<GUESS> crane </Guess>", "CRANE"],
    ["<guess>\n  slate\n</guess>", "SLATE"],
    ["<guess>guessed-word: brisk</guess>", "BRISK"],
    ["<guess> Word : stamp</guess>", "STAMP"],
    ["<guess>answer:TRACE</guess> <guess>OTHER</guess>", "TRACE"],
    ["<guess>c-r-a-n-e!</guess>", "CRANE"],
    ["<guess>straße</guess>", "STRAE"],
    ["<guess>été</guess>", "T"],
    ["<guess></guess>", ""],
    ["<guess>words: crane</guess>", "WORDSCRANE"],
    ["<guess>CRANE", null],
    ["CRANE</guess>", null],
    ["no tags at all", null],
    ["", null],
    [null, null],
    [42, null],
    [{ toString: () => "<guess>CRANE</guess>" }, null],
  ];
  for (const [input, expected] of cases) assert.equal(parseGuess(input), expected, JSON.stringify(input));
});

test("locateGuess reports where the tags are", () => {
  assert.deepEqual(locateGuess("ab<guess>x</guess>"), { guess: "X", openIndex: 2, closeIndex: 10 });
});

/** The course's regex, usable as a reference on short strings (it backtracks badly on long ones). */
const COURSE_REGEX = /^<think>\s*([\s\S]*?)\s*<\/think>\n<guess>\s*([\s\S]*?)\s*<\/guess>\n?$/;

test("the linear course format check agrees with the course regex on random short strings", () => {
  const pieces = ["<think>", "</think>", "\n", "<guess>", "</guess>", " ", "CRANE", "x", "</think>\n<guess>"];
  let state = 12345;
  const next = () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state;
  };
  let matches = 0;
  for (let n = 0; n < 20000; n++) {
    let s = "";
    const length = next() % 7;
    for (let k = 0; k < length; k++) s += pieces[next() % pieces.length];
    const expected = COURSE_REGEX.test("<think>" + s);
    assert.equal(matchesCourseFormat(s), expected, JSON.stringify(s));
    if (expected) matches++;
  }
  assert.ok(matches > 100, `the generator must produce matching strings too (got ${matches})`);
  assert.equal(matchesCourseFormat("ok</think>\n<guess>CRANE</guess>"), true);
  assert.equal(matchesCourseFormat("ok</think>\n<guess>CRANE</guess>\n"), true);
  assert.equal(matchesCourseFormat("ok</think> <guess>CRANE</guess>"), false);
  assert.equal(matchesCourseFormat("ok</think>\n<guess>CRANE</guess> done"), false);
});
