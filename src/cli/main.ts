#!/usr/bin/env node
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { isAddonUnavailable } from "../engine/addon-errors.js";

/**
 * The `wordle-grpo` command. Each sub-command lives in src/cli/commands/<name>.ts and exports
 * `register(program)`; this file only wires them together.
 */
const program = new Command();
program
  .name("wordle-grpo")
  .description("Post-train language models with GRPO + LoRA to play Wordle, and watch whether it works.")
  .showHelpAfterError();

// Sub-commands (one line each; keep alphabetical). Loaded lazily: importing this file loads no
// command, and a run loads only the command it names (all of them for help), so `solve`, `plan`
// and `dashboard` work where the libtorch addon is not built.
const COMMANDS: Record<string, () => Promise<{ register: (program: Command) => void }>> = {
  dashboard: () => import("./commands/dashboard.js"),
  eval: () => import("./commands/eval.js"),
  export: () => import("./commands/export.js"),
  plan: () => import("./commands/plan.js"),
  play: () => import("./commands/play.js"),
  serve: () => import("./commands/serve.js"),
  sft: () => import("./commands/sft.js"),
  solve: () => import("./commands/solve.js"),
  train: () => import("./commands/train.js"),
};

/**
 * Registers the named commands. One whose module cannot load because the addon is missing still
 * appears in the help, and running it prints one line (what is missing, how to build it).
 */
export async function registerCommands(target: Command, names: readonly string[]): Promise<void> {
  const loaded = await Promise.allSettled(names.map((name) => COMMANDS[name]()));
  names.forEach((name, i) => {
    const result = loaded[i];
    if (result.status === "fulfilled") {
      result.value.register(target);
      return;
    }
    const err: unknown = result.reason;
    if (!isAddonUnavailable(err)) throw err;
    target
      .command(name)
      .description("(unavailable: needs the libtorch addon, which is not built)")
      .helpOption(false)
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        process.stderr.write(`wordle-grpo ${name}: ${String(err.message)}\n`);
        process.exit(1);
      });
  });
}

/** The command a command line names (its first word that is not an option), if it is one of ours. */
function namedCommand(argv: readonly string[]): string | undefined {
  const first = argv.slice(2).find((arg) => !arg.startsWith("-"));
  return first !== undefined && Object.hasOwn(COMMANDS, first) ? first : undefined;
}

/** Whether this file is the program being run (not a module imported by another, e.g. a test). */
function isEntryPoint(): boolean {
  if (process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // Output to a closed pipe (`wordle-grpo train ... | head -1`) must not end a run: once the reader
  // is gone, what would have been printed is dropped and the command goes on.
  for (const stream of [process.stdout, process.stderr])
    stream.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code !== "EPIPE") throw error;
    });

  const named = namedCommand(process.argv);
  registerCommands(program, named ? [named] : Object.keys(COMMANDS))
    .then(() => program.parseAsync(process.argv))
    .catch((err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`wordle-grpo: ${message}\n`);
      process.exit(1);
    });
}
