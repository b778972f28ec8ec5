import { type Command, Option } from "commander";
import { type SolveReport, solve } from "../../wordle/solve.js";
import type { GuessPool, SolverName } from "../../wordle/solver.js";
import type { AllowedListName } from "../../wordle/words.js";

/**
 * `wordle-grpo solve`: play a solver against every answer and print win rate, mean guesses,
 * the distribution of game lengths and the time taken. These are the baselines a trained
 * model is compared with.
 */

interface SolveFlags {
  solver: SolverName;
  opener?: string;
  pool: GuessPool;
  allowed: AllowedListName;
  seed: string;
  hard?: boolean;
  json?: boolean;
}

function parseSeed(text: string): number {
  const seed = Number(text);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed expects an integer, got "${text}"`);
  return seed;
}

function formatReport(r: SolveReport, seconds: number): string {
  const lengths = Object.entries(r.distribution)
    .map(([turns, count]) => `${turns}:${count}`)
    .join("  ");
  const maxCount = Math.max(1, ...Object.values(r.distribution));
  const bars = Object.entries(r.distribution).map(
    ([turns, count]) =>
      `  ${turns.padStart(4)} ${"#".repeat(Math.round((40 * count) / maxCount)).padEnd(40)} ${count}`,
  );
  const opener = r.opener ?? (r.solver === "entropy" ? "best by entropy" : "random");
  return [
    `solver ${r.solver}, opener ${opener}, pool ${r.pool}, allowed ${r.allowed}${r.hard ? ", hard mode" : ""}` +
      (r.seed === null ? "" : `, seed ${r.seed}`),
    `games ${r.games}  wins ${r.wins}  win rate ${r.winRate.toFixed(4)}  mean guesses (wins) ${r.meanGuesses.toFixed(4)}`,
    `distribution ${lengths}`,
    ...bars,
    `time ${seconds.toFixed(2)} s (setup ${r.setupSeconds.toFixed(2)} s, play ${r.playSeconds.toFixed(2)} s)`,
  ].join("\n");
}

export function register(program: Command): void {
  program
    .command("solve")
    .description("Play a solver against all 2,315 answers; print win rate, mean guesses and distribution")
    .addOption(
      new Option("--solver <name>", "guessing strategy")
        .choices(["entropy", "random-consistent"])
        .default("entropy"),
    )
    .option("--opener <word>", "fixed first guess (default: entropy picks the best; random picks at random)")
    .addOption(
      new Option("--pool <pool>", "words the entropy solver may guess")
        .choices(["allowed", "answers"])
        .default("allowed"),
    )
    .addOption(
      new Option("--allowed <list>", "accepted-guess list").choices(["12972", "14855"]).default("12972"),
    )
    .option("--seed <n>", "seed of the random-consistent solver", "0")
    .option("--hard", "play by hard-mode rules")
    .option("--json", "print one JSON object")
    .action((flags: SolveFlags) => {
      const t0 = performance.now();
      const report = solve({
        solver: flags.solver,
        opener: flags.opener,
        pool: flags.pool,
        allowed: flags.allowed,
        seed: parseSeed(flags.seed),
        hard: flags.hard ?? false,
      });
      const seconds = (performance.now() - t0) / 1000;
      if (flags.json) process.stdout.write(`${JSON.stringify({ ...report, seconds })}\n`);
      else process.stdout.write(`${formatReport(report, seconds)}\n`);
    });
}
