/**
 * Wordle core benchmark: how long the guess x answer pattern table takes to build, and how long
 * each solver takes to play all 2,315 answers. Run: `npx tsx bench/solve.ts`.
 * Timings on a shared machine are noisy; the median of a few builds is printed.
 */
import { buildPatternTable } from "../src/wordle/pattern-table.js";
import { type SolveOptions, solve } from "../src/wordle/solve.js";
import { loadWordLists } from "../src/wordle/words.js";

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const { answers, allowed } = loadWordLists();
const builds: number[] = [];
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  buildPatternTable(allowed, answers);
  builds.push((performance.now() - t0) / 1000);
}
console.log(
  `pattern table ${allowed.length} x ${answers.length}: median ${median(builds).toFixed(3)} s ` +
    `(runs ${builds.map((b) => b.toFixed(3)).join(", ")})`,
);

const runs: [string, SolveOptions][] = [
  ["entropy, opener salet", { solver: "entropy", opener: "salet" }],
  ["entropy, best opener", { solver: "entropy" }],
  ["entropy, salet, answers pool", { solver: "entropy", opener: "salet", pool: "answers" }],
  ["entropy, salet, hard mode", { solver: "entropy", opener: "salet", hard: true }],
  ["entropy, salet, 14855 list", { solver: "entropy", opener: "salet", allowed: "14855" }],
  ["random-consistent, seed 0", { solver: "random-consistent", seed: 0 }],
];
console.log(
  "\nsolver                           win rate  mean    distribution (1..6, fail)        setup s  play s",
);
for (const [label, options] of runs) {
  const r = solve(options);
  const dist = Object.values(r.distribution).join(" ");
  console.log(
    `${label.padEnd(32)} ${r.winRate.toFixed(4)}    ${r.meanGuesses.toFixed(4)}  ${dist.padEnd(32)} ` +
      `${r.setupSeconds.toFixed(2).padStart(7)}  ${r.playSeconds.toFixed(2).padStart(6)}`,
  );
}
