import { resolve } from "node:path";
import cliProgress from "cli-progress";
import { type Command, Option } from "commander";
import { evaluateAdapter } from "../../eval/before-after.js";
import { endpointLoadedPolicy } from "../../eval/endpoint-policy.js";
import { evalGameLines, formatReport, reportJson } from "../../eval/format.js";
import { type LoadedPolicy, loadPolicy, type PolicySettings } from "../../eval/load-policy.js";
import { HELD_OUT_RESERVE, resolveEvalSet } from "../../eval/secrets.js";
import { acquireFileLock } from "../../run/run-lock.js";
import { GUESS_CONSTRAINT_MODES, type GuessConstraintMode } from "../../task/guess-constraint.js";
import { PROMPT_TEMPLATES, type PromptTemplateName } from "../../task/prompt.js";
import { atomicWriteFile } from "../../util/atomic.js";
import type { SolverName } from "../../wordle/solver.js";

/**
 * `wordle-grpo eval`: full multi-turn games of a model (optionally with a LoRA adapter) or a solver
 * against a set of secrets, with the solver baselines beside it. Invalid guesses cost a turn and
 * are reported separately (src/eval/play-games.ts says why).
 */

/** The flags that choose and configure a policy, shared by `eval` and `play`. */
export interface PolicyFlags {
  model?: string;
  adapter?: string;
  solver?: SolverName;
  opener?: string;
  greedy?: boolean;
  temperature?: string;
  topK?: string;
  topP?: string;
  minP?: string;
  repetitionPenalty?: string;
  maxNewTokens: string;
  template?: PromptTemplateName;
  refused: "auto" | "show" | "hide";
  constrain: "auto" | GuessConstraintMode;
  chat: "auto" | "chatml" | "model";
  seed: string;
  hard?: boolean;
  device: string;
  dtype: string;
  threads?: string;
}

interface EvalFlags extends PolicyFlags {
  set: string[];
  heldOut: string;
  frost: boolean;
  limit?: string;
  batchSize: string;
  baselines: boolean;
  games?: string;
  before?: boolean;
  json?: boolean;
  endpoint?: string;
  servedModel?: string;
  apiKeyEnv?: string;
  concurrency: string;
  retries: string;
  requestTimeout: string;
}

/**
 * The policy of `eval --endpoint`: a model behind an OpenAI-compatible server, played with the
 * same prompts and parser as a local one. Its training.json is out of reach, so the template is
 * --template (default course) and refused guesses are shown only with --refused show.
 */
function endpointPolicyOf(flags: EvalFlags, settings: PolicySettings): LoadedPolicy {
  if (flags.model !== undefined || flags.adapter !== undefined || flags.solver !== undefined)
    throw new Error("--endpoint plays the served model: leave out --model, --adapter and --solver");
  if (flags.before) throw new Error("--before needs a local model with its adapter, not --endpoint");
  if (settings.constrain !== undefined && settings.constrain !== "none")
    throw new Error(
      `--constrain ${settings.constrain} masks the model's logits while it decodes, which a served model does not offer: leave it out with --endpoint`,
    );
  if (flags.servedModel === undefined)
    throw new Error(
      "--endpoint needs --served-model NAME (the model name the server knows; see its /v1/models)",
    );
  let apiKey: string | undefined;
  if (flags.apiKeyEnv !== undefined) {
    apiKey = process.env[flags.apiKeyEnv];
    if (apiKey === undefined || apiKey === "")
      throw new Error(`--api-key-env ${flags.apiKeyEnv}: that environment variable is not set`);
  }
  return endpointLoadedPolicy({
    endpoint: flags.endpoint as string,
    servedModel: flags.servedModel,
    apiKey,
    template: settings.template,
    showRefused: settings.showRefused ?? false,
    temperature: settings.temperature,
    topP: settings.topP,
    topK: settings.topK,
    maxNewTokens: settings.maxNewTokens,
    seed: settings.seed,
    concurrency: numberFlag(flags.concurrency, "--concurrency", "int", 1),
    retries: numberFlag(flags.retries, "--retries", "int", 0),
    timeoutMs: (numberFlag(flags.requestTimeout, "--request-timeout", "real", 0.001) as number) * 1000,
  });
}

/** A number flag: `kind` "int" (>= min) or "real" (> 0 unless min is given). */
export function numberFlag(
  text: string | undefined,
  flag: string,
  kind: "int" | "real",
  min = 0,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  const ok =
    kind === "int" ? Number.isSafeInteger(value) && value >= min : Number.isFinite(value) && value >= min;
  if (!ok) {
    throw new Error(
      `${flag} expects ${kind === "int" ? `an integer >= ${min}` : `a number >= ${min}`}, got "${text}"`,
    );
  }
  return value;
}

/** The policy settings shared by `eval` and `play`. */
export function policySettings(flags: PolicyFlags): PolicySettings {
  if (flags.greedy && flags.temperature !== undefined) {
    throw new Error("--greedy and --temperature exclude each other (greedy decoding has no temperature)");
  }
  const temperature = numberFlag(flags.temperature, "--temperature", "real");
  if (temperature === 0) throw new Error("--temperature must be > 0; use --greedy for argmax decoding");
  return {
    solver: flags.solver,
    opener: flags.opener,
    model: flags.model,
    adapter: flags.adapter,
    device: flags.device,
    dtype: flags.dtype,
    template: flags.template,
    showRefused:
      flags.refused === "auto" || flags.refused === undefined ? undefined : flags.refused === "show",
    constrain: flags.constrain === "auto" || flags.constrain === undefined ? undefined : flags.constrain,
    chat: flags.chat,
    temperature,
    topK: numberFlag(flags.topK, "--top-k", "int"),
    topP: numberFlag(flags.topP, "--top-p", "real"),
    minP: numberFlag(flags.minP, "--min-p", "real"),
    repetitionPenalty: numberFlag(flags.repetitionPenalty, "--repetition-penalty", "real"),
    maxNewTokens: numberFlag(flags.maxNewTokens, "--max-new-tokens", "int", 1),
    seed: numberFlag(flags.seed, "--seed", "int"),
    hard: flags.hard,
    threads: numberFlag(flags.threads, "--threads", "int", 1),
  };
}

/** Options for choosing and running the player, shared by `eval` and `play`. */
export function addPolicyOptions(command: Command): Command {
  return command
    .option("--model <dir>", "Hugging Face model directory (default: the model shipped in models/)")
    .option("--adapter <dir>", "PEFT LoRA adapter to load onto the model (e.g. RUN/final)")
    .addOption(
      new Option("--solver <name>", "play a solver instead of a model").choices([
        "entropy",
        "random-consistent",
      ]),
    )
    .option(
      "--opener <word>",
      "solver's first guess (default: SALET for entropy, random for random-consistent)",
    )
    .option("--greedy", "argmax decoding (the default)")
    .option("--temperature <t>", "sample at this temperature instead of greedy decoding")
    .option("--top-k <k>", "sampling: keep the k most likely tokens")
    .option("--top-p <p>", "sampling: nucleus probability")
    .option("--min-p <p>", "sampling: drop tokens below p x the top probability")
    .option("--repetition-penalty <x>", "penalty on tokens already present (1 = off)")
    .option("--max-new-tokens <n>", "most tokens per completion", "128")
    .option(
      "--threads <n>",
      "engine threads (default: 1 for a small model on the CPU, where a second thread slows it, else all cores)",
    )
    .addOption(
      new Option(
        "--template <name>",
        "prompt template (default: the one the model was trained with, from its training.json; else course)",
      ).choices([...PROMPT_TEMPLATES]),
    )
    .addOption(
      new Option(
        "--refused <how>",
        "refused guesses (not in word list) in the prompt: as the adapter or model was trained (auto, from its training.json), always, or never",
      )
        .choices(["auto", "show", "hide"])
        .default("auto"),
    )
    .addOption(
      new Option(
        "--constrain <words>",
        "guesses the decoder may spell: as the adapter or model was trained (auto, from its training.json), any text (none), accepted words (valid), or accepted words that fit the feedback so far (consistent)",
      )
        .choices(["auto", ...GUESS_CONSTRAINT_MODES])
        .default("auto"),
    )
    .addOption(
      new Option(
        "--chat <how>",
        "chat wrapping: the tokenizer's template if any (auto), ChatML, or the model's",
      )
        .choices(["auto", "chatml", "model"])
        .default("auto"),
    )
    .option("--seed <n>", "seed of sampled decoding and of the random-consistent solver", "0")
    .option("--hard", "hard-mode rules")
    .option("--device <d>", "auto, cpu, cuda, cuda:N or mps", "auto")
    .option(
      "--dtype <t>",
      "auto (bfloat16 where its matmuls are fast, float32 for a small model on the CPU), float32, bfloat16 or float16",
      "auto",
    );
}

export function register(program: Command): void {
  const command = program
    .command("eval")
    .description(
      "Play full games against held-out secrets (or all answers, or a list) and compare with the solver baselines",
    );
  addPolicyOptions(command)
    .option(
      "--set <spec>",
      "secrets: all | held-out | list:FILE | words:a,b,c (repeat for several sets)",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .option(
      "--held-out <n>",
      `held-out secrets besides FROST (at most ${HELD_OUT_RESERVE})`,
      String(HELD_OUT_RESERVE),
    )
    .option("--no-frost", "leave FROST out of the held-out set")
    .option("--limit <n>", "play only the first n secrets of each set")
    .option("--batch-size <n>", "games played side by side (one generate call per turn)", "64")
    .option("--no-baselines", "skip the solver baselines")
    .option("--games <file>", "write every game as eval-games.jsonl lines to this file")
    .option(
      "--before",
      "with --adapter: also play the base model (adapter off) on the same secrets, shown as before/after",
    )
    .option("--json", "print one JSON object (summaries, metrics, baselines)")
    .option(
      "--endpoint <url>",
      "play a model behind an OpenAI-compatible server (wordle-grpo serve, vLLM, ...) instead of a local one",
    )
    .option("--served-model <name>", "with --endpoint: the model name the server knows")
    .option("--api-key-env <var>", "with --endpoint: send the API key held in this environment variable")
    .option("--concurrency <n>", "with --endpoint: requests in flight at once", "8")
    .option("--retries <n>", "with --endpoint: retries of a request on 429, 5xx or a network error", "3")
    .option("--request-timeout <s>", "with --endpoint: seconds to wait for one answer", "120")
    .action(async (flags: EvalFlags) => {
      const settings = policySettings(flags);
      const heldOutCount = numberFlag(flags.heldOut, "--held-out", "int");
      const limit = numberFlag(flags.limit, "--limit", "int", 1);
      const batchSize = numberFlag(flags.batchSize, "--batch-size", "int", 1);
      const sets = (flags.set ?? ["held-out"]).map((spec) => {
        const set = resolveEvalSet(spec, { heldOutCount, includeFrost: flags.frost });
        return limit === undefined ? set : { ...set, secrets: set.secrets.slice(0, limit) };
      });
      // The games file is this command's until it ends: a second eval writing it fails at once.
      const gamesLock =
        flags.games === undefined ? null : acquireFileLock(resolve(flags.games), "eval", "--games");
      const load = async () =>
        flags.endpoint !== undefined ? endpointPolicyOf(flags, settings) : loadPolicy(settings);
      const loaded = await load().catch((error) => {
        gamesLock?.release();
        throw error;
      });
      if (flags.before && loaded.setAdapterEnabled === undefined) {
        gamesLock?.release();
        loaded.dispose();
        throw new Error("--before compares a model without and with its adapter: give --adapter DIR");
      }
      const passes = flags.before ? 2 : 1;
      const total = passes * sets.reduce((n, s) => n + s.secrets.length, 0);
      const bar =
        !flags.json && process.stderr.isTTY
          ? new cliProgress.SingleBar(
              {
                format: "games {bar} {value}/{total} | {duration_formatted} elapsed, ETA {eta_formatted}",
                stream: process.stderr,
              },
              cliProgress.Presets.shades_classic,
            )
          : null;
      if (!flags.json) process.stderr.write(`evaluating ${loaded.description}\n`);
      bar?.start(total, 0);
      try {
        const { before, report } = await evaluateAdapter({
          loaded,
          sets,
          before: flags.before === true,
          baselines: flags.baselines ? { seed: settings.seed } : false,
          batchSize,
          hardMode: flags.hard,
          onGame: () => bar?.increment(),
        });
        bar?.stop();
        if (flags.games !== undefined) {
          const lines = [
            ...(before ? [{ report: before, player: "base" }] : []),
            { report, player: "policy" },
          ].flatMap(({ report: r, player }) =>
            r.sets.flatMap((s) =>
              evalGameLines(0, s.games).map((line) =>
                JSON.stringify({ ...line, set: s.set, ...(before ? { player } : {}) }),
              ),
            ),
          );
          atomicWriteFile(flags.games, `${lines.join("\n")}\n`);
        }
        if (flags.json) {
          const json = { player: loaded.description, ...reportJson(report) };
          process.stdout.write(
            `${JSON.stringify(before ? { ...json, before: reportJson(before) } : json)}\n`,
          );
        } else {
          const seconds = report.sets.map((s) => `${s.set} ${s.seconds.toFixed(1)} s`).join(", ");
          const text = before
            ? formatReport(report, {
                before,
                beforeLabel: "model, adapter off (before)",
                label: "model + adapter (after)",
              })
            : formatReport(report, { label: loaded.policy.name });
          process.stdout.write(`${text}\n(time: ${seconds})\n`);
        }
      } finally {
        bar?.stop();
        loaded.dispose();
        gamesLock?.release();
      }
    });
}
