import { type Command, Option } from "commander";
import { EXPORT_DTYPES, type ExportDtype, mergeAdapter } from "../../model/merge-adapter.js";

/**
 * `wordle-grpo export --model DIR --adapter DIR --out DIR`: the adapter merged into its base model,
 * written as a plain Hugging Face model directory (src/model/merge-adapter.ts), for tools that do
 * not load PEFT adapters.
 */

interface ExportFlags {
  model: string;
  adapter: string;
  out: string;
  dtype: ExportDtype;
  overwrite?: boolean;
}

const AFTER_HELP = `
The adapter stays the primary output of training: it is small, it is what eval, play and
train --resume load, and it can be merged again at any time, into any dtype. The merged directory
is a convenience copy for tools that read plain checkpoints (transformers' from_pretrained, vLLM,
GGUF converters) without PEFT: keep the adapter.

Written: config.json (dtype updated), model.safetensors (W + lora_alpha/r * B A in every adapted
projection, lora_alpha/sqrt(r) with use_rslora; tensor names and shapes as in the base checkpoint),
and the base directory's tokenizer files, chat template, generation_config.json and other metadata.
The directory appears complete or not at all.

Example:
  wordle-grpo export --model models/qwen2.5-0.5b-instruct --adapter runs/grpo/final \\
    --out models/qwen2.5-0.5b-wordle --dtype bfloat16`;

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0)} MB`;
}

export function register(program: Command): void {
  program
    .command("export")
    .description("Merge a LoRA adapter into its base model: a standalone Hugging Face model directory")
    .requiredOption("--model <dir>", "the base model directory the adapter was trained on")
    .requiredOption(
      "--adapter <dir>",
      "the PEFT adapter directory (adapter_config.json + adapter_model.safetensors)",
    )
    .requiredOption("--out <dir>", "the merged model directory to write")
    .addOption(
      new Option("--dtype <dtype>", "stored dtype of the merged weights (auto: the base checkpoint's)")
        .choices([...EXPORT_DTYPES])
        .default("auto"),
    )
    .option("--overwrite", "replace --out when it exists and is not empty")
    .addHelpText("after", AFTER_HELP)
    .action((flags: ExportFlags) => {
      const result = mergeAdapter(flags.model, flags.adapter, flags.out, {
        dtype: flags.dtype,
        overwrite: flags.overwrite ?? false,
      });
      const out = (line: string) => process.stdout.write(`${line}\n`);
      out(
        `merged ${result.mergedProjections} LoRA projections (r ${result.r}, lora_alpha ${result.loraAlpha}, scale ${result.scale}) into ${result.outDir}`,
      );
      out(`  model.safetensors: ${result.tensors} tensors, ${result.dtype}, ${megabytes(result.bytes)}`);
      out(`  copied: ${result.copiedFiles.length > 0 ? result.copiedFiles.join(", ") : "nothing else"}`);
      for (const note of result.notes) out(`  note: ${note}`);
    });
}
