import assert from "node:assert/strict";
import { test } from "node:test";
import { summarizeGames } from "../src/eval/aggregate.js";
import { excerpt } from "../src/eval/game-record.js";
import { playGames } from "../src/eval/play-games.js";
import type { GuessPolicy, PolicyMove, PolicyState } from "../src/eval/policy.js";
import { heldOutSecrets } from "../src/eval/secrets.js";
import { solverPolicy } from "../src/eval/solver-policy.js";
import { solve } from "../src/wordle/solve.js";

/** A policy that plays fixed completions per game (index), parsing them like a model would. */
function scripted(scripts: readonly (readonly string[])[], seen: number[][] = []): GuessPolicy {
  return {
    name: "scripted",
    async next(states: readonly PolicyState[]): Promise<PolicyMove[]> {
      seen.push(states.map((s) => s.game));
      return states.map((s) => {
        const completion = scripts[s.game][s.turn - 1];
        const match = /<guess>(.*?)<\/guess>/.exec(completion);
        return { completion, guess: match ? match[1].replace(/[^a-z]/gi, "") : null };
      });
    },
  };
}

const HELD_OUT_200 = heldOutSecrets({ count: 200, includeFrost: false });

test("entropy from SALET wins all 200 held-out secrets and matches solve() game for game", async () => {
  const { games, summary } = await playGames(solverPolicy({ solver: "entropy" }), HELD_OUT_200);
  assert.equal(summary.games, 200);
  assert.equal(summary.winRate, 1);
  const reference = solve({ solver: "entropy", opener: "salet", secrets: HELD_OUT_200, keepGames: true });
  assert.deepEqual(summary.distribution, reference.distribution);
  assert.ok(summary.meanGuesses !== null && Math.abs(summary.meanGuesses - reference.meanGuesses) < 1e-12);
  games.forEach((g, i) => {
    assert.deepEqual(
      g.guesses.map((x) => x.word),
      reference.records?.[i].guesses,
      g.secret,
    );
  });
  assert.equal(summary.invalidGuesses, 0);
  assert.equal(summary.invalidRate, 0);
});

test("random-consistent: always feedback-consistent, never reuses a dead letter, about 4 guesses", async () => {
  const { summary } = await playGames(solverPolicy({ solver: "random-consistent", seed: 3 }), HELD_OUT_200);
  assert.equal(summary.consistentRate, 1);
  assert.equal(summary.deadLetterReuseRate, 0);
  assert.ok(
    summary.meanGuesses !== null && summary.meanGuesses > 3.7 && summary.meanGuesses < 4.4,
    `${summary.meanGuesses}`,
  );
  assert.ok(summary.winRate !== null && summary.winRate > 0.93, `${summary.winRate}`);
});

test("lock-step batches give the same games as one game at a time (entropy and random-consistent)", async () => {
  const secrets = HELD_OUT_200.slice(0, 60);
  for (const solver of ["entropy", "random-consistent"] as const) {
    const batched = await playGames(solverPolicy({ solver, seed: 7 }), secrets, { batchSize: 64 });
    const single = await playGames(solverPolicy({ solver, seed: 7 }), secrets, { batchSize: 1 });
    const odd = await playGames(solverPolicy({ solver, seed: 7 }), secrets, { batchSize: 7 });
    assert.deepEqual(batched.games, single.games, solver);
    assert.deepEqual(odd.games, single.games, solver);
    assert.deepEqual(batched.summary, single.summary, solver);
    // A policy reused on another list starts every game afresh (game indices restart at 0).
    const reused = solverPolicy({ solver, seed: 7 });
    await playGames(reused, HELD_OUT_200.slice(100, 130));
    assert.deepEqual((await playGames(reused, secrets)).games, single.games, solver);
  }
});

test("every unfinished game advances one turn per policy call; finished games are refilled", async () => {
  const win = ["<guess>frost</guess>"];
  const slow = ["x", "x", "<guess>frost</guess>"];
  const seen: number[][] = [];
  await playGames(scripted([slow, win, slow, win, win], seen), Array(5).fill("frost"), { batchSize: 3 });
  assert.deepEqual(seen, [
    [0, 1, 2], // game 1 wins at once; its slot goes to game 3
    [0, 2, 3], // game 3 wins; game 4 enters
    [0, 2, 4], // games 0 and 2 win on turn 3, game 4 on its first
  ]);
});

test("a scripted policy with junk yields hand-computed aggregates; invalid guesses cost a turn", async () => {
  const long = `<think>${"hmm ".repeat(200)}</think>\n<guess>CRANE</guess>`;
  const scripts = [
    // frost: 6 turns, 2 of them invalid-by-word/format, 1 unparseable; won on turn 6.
    [
      "I think the answer is frost", // no tags: unparseable
      long, // CRANE vs FROST = acaaa, consistent (no history), no dead letter
      "<guess>XXXXX</guess>", // five letters, not a word
      "<guess>ABC</guess>", // wrong length: format
      "<guess>BRICK</guess>", // acaaa, but CRANE said C is absent: inconsistent, dead letter reused
      "<guess>FROST</guess>", // win on turn 6
    ],
    ["<guess>crane</guess>"], // crane: win on turn 1
    Array(6).fill("no idea"), // abide: six unparseable guesses, lost
  ];
  const events: string[] = [];
  const { games, summary } = await playGames(scripted(scripts), ["frost", "CRANE", "abide"], {
    excerptChars: 60,
    onTurn: (e) => events.push(`${e.game}:${e.turn}:${e.over ? (e.won ? "won" : "lost") : "-"}`),
  });
  const frost = games[0];
  assert.equal(frost.turns, 6);
  assert.equal(frost.won, true);
  assert.deepEqual(
    frost.guesses.map((g) => [g.word, g.feedback, g.valid, g.invalid ?? null]),
    [
      [null, null, false, "unparseable"],
      ["crane", "acaaa", true, null],
      ["xxxxx", null, false, "not-a-word"],
      ["abc", null, false, "format"],
      ["brick", "acaaa", true, null],
      ["frost", "ccccc", true, null],
    ],
  );
  assert.equal(frost.guesses[1].consistent, true);
  assert.equal(frost.guesses[1].deadLetterReuse, false);
  assert.equal(frost.guesses[4].consistent, false);
  assert.equal(frost.guesses[4].deadLetterReuse, true);
  // The long completion was cut to an excerpt that keeps its head and its guess.
  assert.ok(frost.guesses[1].completion.length < long.length);
  assert.ok(frost.guesses[1].completion.startsWith("<think>hmm"));
  assert.ok(frost.guesses[1].completion.endsWith("<guess>CRANE</guess>"));
  assert.equal(games[1].secret, "crane");
  assert.equal(games[2].won, false);
  assert.equal(games[2].turns, 6);

  assert.deepEqual(summary, {
    games: 3,
    wins: 2,
    winRate: 2 / 3,
    meanGuesses: (6 + 1) / 2,
    distribution: { 1: 1, 2: 0, 3: 0, 4: 0, 5: 0, 6: 1, fail: 1 },
    guesses: 13,
    invalidGuesses: 9,
    invalidRate: 9 / 13,
    invalidByKind: { unparseable: 7, format: 1, "not-a-word": 1, "hard-mode": 0 },
    validGuesses: 4,
    consistentRate: 3 / 4, // crane, frost (win), crane (win) yes; brick no
    deadLetterReuseRate: 1 / 4, // brick
  });
  assert.equal(events.filter((e) => e.endsWith("won")).length, 2);
  assert.ok(events.includes("2:6:lost"));
  assert.equal(events.length, 13);
});

test("the policy is told which guesses were refused, in play order", async () => {
  const scripts = [["<guess>XXXXX</guess>", "<guess>CRANE</guess>", "no tags", "<guess>FROST</guess>"]];
  const seen: PolicyState[] = [];
  const inner = scripted(scripts);
  const policy: GuessPolicy = {
    name: "recording",
    next: async (states) => {
      seen.push(...states.map((s) => structuredClone(s)));
      return inner.next(states);
    },
  };
  const { games } = await playGames(policy, ["frost"]);
  assert.equal(games[0].won, true);
  assert.deepEqual(
    seen.map((s) => [s.turn, s.history.map((h) => h.guess), s.refused]),
    [
      [1, [], []],
      [2, [], [{ guess: "xxxxx", after: 0 }]],
      [3, ["crane"], [{ guess: "xxxxx", after: 0 }]],
      [
        4,
        ["crane"],
        [
          { guess: "xxxxx", after: 0 },
          { guess: null, after: 1 },
        ],
      ],
    ],
  );
});

test("hard mode: a guess that ignores a green is invalid and costs a turn", async () => {
  const { games } = await playGames(
    scripted([["<guess>crane</guess>", "<guess>pious</guess>", "<guess>frost</guess>"]]),
    ["frost"],
    { hardMode: true },
  );
  assert.deepEqual(
    games[0].guesses.map((g) => g.invalid ?? "ok"),
    ["ok", "hard-mode", "ok"],
  );
  assert.equal(games[0].turns, 3);
  assert.equal(games[0].won, true);
});

test("maxTurns limits games; bad options and bad policies fail with clear messages", async () => {
  const { summary } = await playGames(scripted([Array(3).fill("<guess>crane</guess>")]), ["frost"], {
    maxTurns: 3,
  });
  assert.equal(summary.guesses, 3);
  assert.deepEqual(summary.distribution, { 1: 0, 2: 0, 3: 0, fail: 1 });
  await assert.rejects(playGames(scripted([]), ["fros"]), /secrets\[0\] must be 5 letters/);
  await assert.rejects(
    playGames(scripted([]), ["frost"], { batchSize: 0 }),
    /batchSize must be a positive integer/,
  );
  const broken: GuessPolicy = { name: "broken", next: async () => [] };
  await assert.rejects(playGames(broken, ["frost"]), /policy "broken" returned 0 moves for 1 positions/);
});

test("summaries of no games and of games without valid guesses use null, not NaN", () => {
  const empty = summarizeGames([]);
  assert.equal(empty.winRate, null);
  assert.equal(empty.meanGuesses, null);
  assert.equal(empty.invalidRate, null);
  assert.equal(empty.consistentRate, null);
});

test("excerpt keeps short texts and cuts long ones in the middle", () => {
  assert.equal(excerpt("abc", 10), "abc");
  assert.equal(excerpt("abcdefghij", 4), "ab…[6 chars cut]…ij");
  assert.equal(excerpt("abcdefghij", 0), "…[10 chars cut]…");
});
