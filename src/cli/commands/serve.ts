import type { Command } from "commander";
import { DEFAULT_LIMITS } from "../../serve/limits.js";
import { loadServedModel } from "../../serve/load-served-model.js";
import { startServer } from "../../serve/server.js";
import { exposureWarning } from "../../util/listen-host.js";
import { stopOnSignals } from "../../util/stop-on-signals.js";
import { numberFlag } from "./eval.js";

/**
 * `wordle-grpo serve`: a model (with its LoRA adapter) behind an OpenAI-compatible HTTP API, so
 * any OpenAI client, and `wordle-grpo eval --endpoint`, can play with it. docs/serving.md.
 */

interface ServeFlags {
  model: string;
  adapter?: string;
  name?: string;
  host?: string;
  port: string;
  device: string;
  dtype: string;
  threads?: string;
  maxTokens: string;
  batchWindowMs: string;
  maxBatch: string;
}

export function register(program: Command): void {
  program
    .command("serve")
    .description("Serve a model (and LoRA adapter) over an OpenAI-compatible HTTP API (docs/serving.md)")
    .requiredOption("--model <dir>", "Hugging Face model directory")
    .option("--adapter <dir>", "PEFT LoRA adapter to load onto the model")
    .option(
      "--name <name>",
      "model name clients ask for (default: the adapter's folder name, else the model's)",
    )
    .option("--host <host>", "interface to listen on (default 127.0.0.1; 0.0.0.0 exposes it to the network)")
    .option("--port <n>", "port (0: any free port)", "8000")
    .option("--device <d>", "auto, cpu, cuda, cuda:N or mps", "auto")
    .option("--dtype <t>", "auto, float32, bfloat16 or float16", "auto")
    .option("--threads <n>", "engine threads (default: 1 for a small model on the CPU)")
    .option(
      "--max-tokens <n>",
      "largest max_tokens a request may ask (and the default)",
      String(DEFAULT_LIMITS.maxTokens),
    )
    .option("--batch-window-ms <ms>", "how long a request waits for others to share its batch", "5")
    .option("--max-batch <n>", "most prompts in one generate call", "64")
    .action(async (flags: ServeFlags) => {
      const host = flags.host ?? "127.0.0.1";
      const warning = exposureWarning("serve", host, "can use the model (there is no authentication)");
      if (warning !== null) process.stderr.write(`${warning}\n`);
      const served = await loadServedModel({
        model: flags.model,
        adapter: flags.adapter,
        device: flags.device,
        dtype: flags.dtype,
        threads: numberFlag(flags.threads, "--threads", "int", 1),
        name: flags.name,
      });
      const server = await startServer({
        model: served.model,
        tokenizer: served.tokenizer,
        modelName: served.name,
        host,
        port: numberFlag(flags.port, "--port", "int", 0),
        limits: { maxTokens: numberFlag(flags.maxTokens, "--max-tokens", "int", 1) },
        batchWindowMs: numberFlag(flags.batchWindowMs, "--batch-window-ms", "int", 0),
        maxBatchPrompts: numberFlag(flags.maxBatch, "--max-batch", "int", 1),
      }).catch((error: unknown) => {
        served.model.dispose();
        throw error;
      });
      stopOnSignals(
        "serve",
        async () => {
          await server.close();
          served.model.dispose();
        },
        { deadlineMs: 5000, announce: true },
      );
      // One line on stdout that scripts (and the tests) read the address from.
      process.stdout.write(`serving ${served.name} at ${server.url}/v1 (${served.description})\n`);
    });
}
