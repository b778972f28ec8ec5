#!/usr/bin/env node
import { Command } from "commander";

/**
 * The `wordle-grpo` command. Each sub-command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them together.
 */
const program = new Command();
program
  .name("wordle-grpo")
  .description("Post-train language models with GRPO + LoRA to play Wordle, and watch whether it works.")
  .showHelpAfterError();

// Sub-commands (one line each; keep alphabetical).
import { register as registerDashboard } from "./commands/dashboard.js";

registerDashboard(program);

import { register as registerEval } from "./commands/eval.js";

registerEval(program);

import { register as registerExport } from "./commands/export.js";

registerExport(program);

import { register as registerPlan } from "./commands/plan.js";

registerPlan(program);

import { register as registerPlay } from "./commands/play.js";

registerPlay(program);

import { register as registerServe } from "./commands/serve.js";

registerServe(program);

import { register as registerSft } from "./commands/sft.js";

registerSft(program);

import { register as registerSolve } from "./commands/solve.js";

registerSolve(program);

import { register as registerTrain } from "./commands/train.js";

registerTrain(program);

// Output to a closed pipe (`wordle-grpo train ... | head -1`) must not end a run: once the reader
// is gone, what would have been printed is dropped and the command goes on.
for (const stream of [process.stdout, process.stderr])
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`wordle-grpo: ${message}\n`);
  process.exit(1);
});
