/**
 * Everything in a merged model directory besides the weights: where it may be written, which of
 * the base directory's files travel with it, and its config.json.
 */
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import type { DType } from "../engine/dtype.js";

export class ExportTargetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ExportTargetError";
  }
}

function isInside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

/**
 * Refuses an output directory that would lose data: one that holds files (unless `overwrite`), a
 * path that is a file, and (even with `overwrite`) the model or adapter directory itself or a
 * folder containing it, since replacing it would delete the inputs the merge reads.
 */
export function checkExportTarget(
  outDir: string,
  inputs: readonly { flag: string; dir: string }[],
  overwrite: boolean,
): void {
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory())
    throw new ExportTargetError(`--out ${outDir} exists and is not a directory`);
  const out = realpathSync(outDir);
  for (const { flag, dir } of inputs)
    if (existsSync(dir) && isInside(realpathSync(dir), out))
      throw new ExportTargetError(
        `--out ${outDir} ${realpathSync(dir) === out ? "is" : "contains"} the ${flag} directory; replacing it would delete what the export reads: choose another --out`,
      );
  const held = readdirSync(outDir);
  if (held.length > 0 && !overwrite)
    throw new ExportTargetError(
      `--out ${outDir} is not empty (${held.length} entr${held.length === 1 ? "y" : "ies"}, e.g. ${held[0]}); pass --overwrite to replace it`,
    );
}

/**
 * Files that are weights (rewritten as one model.safetensors) or that would change what the
 * directory is: adapter files would make transformers load it as a PEFT adapter.
 */
const NOT_COPIED = [
  /^config\.json$/,
  /\.safetensors$/,
  /\.safetensors\.index\.json$/,
  /\.bin$/,
  /\.bin\.index\.json$/,
  /\.(pt|pth|ckpt|gguf|h5|msgpack|onnx|ot|tflite|npz)$/,
  /^adapter_/,
  /^\./,
];

/**
 * The base directory's other top-level files, by name: tokenizer.json, tokenizer_config.json,
 * chat_template.jinja, generation_config.json, special_tokens_map.json, vocab/merges, README, ...
 * Symbolic links count as the files they point to (a Hugging Face cache snapshot is all links).
 */
export function filesToCopy(modelDir: string): string[] {
  return readdirSync(modelDir)
    .filter((name) => !NOT_COPIED.some((pattern) => pattern.test(name)))
    .filter((name) => {
      try {
        return statSync(join(modelDir, name)).isFile();
      } catch {
        return false; // a dangling link: nothing to copy
      }
    })
    .sort();
}

/**
 * The base config.json with the dtype the weights are now stored in. transformers 5 writes
 * `dtype`, older versions `torch_dtype`: whichever the file has is updated (`dtype` when neither),
 * every other key is kept as it was, in its order.
 */
export function mergedConfigText(modelDir: string, dtype: DType): string {
  const path = join(modelDir, "config.json");
  const json = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  if ("torch_dtype" in json) json.torch_dtype = dtype;
  if ("dtype" in json || !("torch_dtype" in json)) json.dtype = dtype;
  return `${JSON.stringify(json, null, 2)}\n`;
}
