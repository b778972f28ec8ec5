/**
 * Merging a LoRA adapter into its base model: a standalone Hugging Face model directory that
 * transformers, vLLM and our own loader read without PEFT.
 *
 *   mergeAdapter("models/qwen2.5-0.5b", "runs/x/final", "out/merged", { dtype: "bfloat16" });
 *
 * Every adapted projection becomes W' = W + scale * B A (scale = lora_alpha / r, or
 * lora_alpha / sqrt(r) with use_rslora, as PEFT scales it), computed in float32 from the stored
 * weights and rounded once to the output dtype. Every other tensor is copied (converted to the
 * output dtype). The checkpoint keeps the base's tensor names and [out, in] layout: separate
 * q/k/v and gate/up (our loader fuses them in memory only), no lm_head.weight when the embeddings
 * are tied. Tensors are read, merged and written one at a time, so memory stays near one matrix
 * beyond the adapter.
 *
 * The output directory appears complete or not at all (writeDirectoryAtomically). The adapter
 * remains what training produces and what a run resumes from; this is a copy for other tools.
 */
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DType } from "../engine/dtype.js";
import { dtypeSize, noGrad, scope } from "../engine/index.js";
import { openSafetensors, type SafetensorsWriteEntry, writeSafetensors } from "../engine/safetensors.js";
import type { SafetensorsDtype } from "../engine/safetensors-dtypes.js";
import type { Tensor } from "../engine/tensor.js";
import { writeDirectoryAtomically } from "../util/atomic.js";
import { loadHfConfig, type ModelConfig } from "./hf-config.js";
import { checkExportTarget, filesToCopy, mergedConfigText } from "./merge-adapter-files.js";
import { type AdapterForMerge, readAdapterForMerge } from "./merge-adapter-lora.js";
import { loadTokenizer } from "./tokenizer.js";
import { CheckpointReader, expectedTensors, WeightsError } from "./weights.js";

export const EXPORT_DTYPES = ["auto", "float32", "bfloat16", "float16"] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

export interface MergeAdapterOptions {
  /** The stored dtype of the merged weights; "auto" (default) keeps the base checkpoint's. */
  dtype?: ExportDtype;
  /** Replace an existing non-empty output directory (default: refuse it). */
  overwrite?: boolean;
}

export interface MergeAdapterResult {
  outDir: string;
  dtype: DType;
  /** Tensors in the written model.safetensors. */
  tensors: number;
  /** Projections that had an adapter and now carry its update. */
  mergedProjections: number;
  r: number;
  loraAlpha: number;
  scale: number;
  /** Bytes of tensor data written. */
  bytes: number;
  /** Files copied from the base directory beside config.json and the weights. */
  copiedFiles: string[];
  /** Things worth telling the user (a setting accepted with a caveat, a tensor not carried over). */
  notes: string[];
}

const SAFETENSORS_NAME: Partial<Record<DType, SafetensorsDtype>> = {
  float32: "F32",
  bfloat16: "BF16",
  float16: "F16",
  float64: "F64",
};

const STORED: Partial<Record<SafetensorsDtype, DType>> = {
  F32: "float32",
  BF16: "bfloat16",
  F16: "float16",
  F64: "float64",
};

/** Buffers transformers does not save and our loader skips: not carried into the export. */
const UNUSED_BUFFER = /\.rotary_emb\.inv_freq$/;

/** The dtype the base checkpoint stores `name` in (for "auto" when config.json does not say). */
function storedDtype(modelDir: string, name: string): DType | null {
  try {
    let path = join(modelDir, "model.safetensors");
    if (!existsSync(path)) {
      const index = JSON.parse(readFileSync(join(modelDir, "model.safetensors.index.json"), "utf8"));
      const shard = index?.weight_map?.[name];
      if (typeof shard !== "string") return null;
      path = join(modelDir, shard);
    }
    const file = openSafetensors(path);
    try {
      const info = file.tensors.get(name);
      return info ? (STORED[info.dtype] ?? null) : null;
    } finally {
      file.close();
    }
  } catch {
    return null; // an unreadable checkpoint: CheckpointReader reports it with its own message
  }
}

function resolveDtype(requested: ExportDtype, config: ModelConfig, modelDir: string): DType {
  if (requested !== "auto") return requested;
  return config.dtype ?? storedDtype(modelDir, "model.embed_tokens.weight") ?? "float32";
}

/**
 * The base checkpoint must hold exactly what its config implies (as the loader demands), apart
 * from buffers nobody reads and a tied head stored anyway; those two are left out, as
 * transformers' save_pretrained leaves them out.
 */
function checkBaseTensors(reader: CheckpointReader, config: ModelConfig, notes: string[]): void {
  const expected = expectedTensors(config);
  for (const name of expected.keys())
    if (!reader.has(name))
      throw new WeightsError(reader.dir, `missing tensor "${name}" (config.json implies it)`);
  const extra = reader.allNames().filter((name) => !expected.has(name));
  const dropped = extra.filter((name) => UNUSED_BUFFER.test(name) || name === "lm_head.weight");
  const unknown = extra.filter((name) => !dropped.includes(name));
  if (unknown.length > 0)
    throw new WeightsError(
      reader.dir,
      `${unknown.length} tensor(s) config.json does not account for (${unknown.slice(0, 3).join(", ")}${unknown.length > 3 ? ", ..." : ""}); the loader refuses this checkpoint too`,
    );
  if (dropped.length > 0)
    notes.push(
      `not written: ${dropped.join(", ")} (${dropped.includes("lm_head.weight") ? "the head is tied to the embedding" : "a buffer computed at load time"}, as transformers saves it)`,
    );
}

/** The write entry of one tensor: read, merged if adapted, converted, checked, serialised. */
function tensorEntry(
  name: string,
  shape: number[],
  dtype: DType,
  readers: { plain: CheckpointReader; compute: CheckpointReader },
  adapter: AdapterForMerge,
): SafetensorsWriteEntry {
  const stored = SAFETENSORS_NAME[dtype];
  if (!stored) throw new Error(`mergeAdapter: cannot store ${dtype}`);
  const pair = name.endsWith(".weight") ? adapter.pairs.get(name.slice(0, -".weight".length)) : undefined;
  const produce = (): Tensor => {
    if (!pair) return readers.plain.read(name, shape);
    const w = readers.compute.read(name, shape);
    const delta = pair.b.matmul(pair.a).mul(adapter.scale).to(w.dtype);
    return w.add(delta).to(dtype);
  };
  return {
    name,
    dtype: stored,
    shape,
    data: () =>
      scope(() =>
        noGrad(() => {
          const t = produce();
          // Our loader would refuse the output, transformers would compute garbage from it: stop here.
          if (!t.allFinite())
            throw new WeightsError(
              readers.plain.dir,
              `tensor "${name}" is not finite in ${dtype}${dtype === "float16" ? " (float16 stops at 65504; export as bfloat16 or float32)" : ""}`,
            );
          return t.toBytes();
        }),
      ),
  };
}

/**
 * Writes `outDir`: config.json (dtype updated), model.safetensors with the adapter merged in, and
 * the base directory's tokenizer and other metadata files. The output directory, the tokenizer,
 * the base's tensor names and the adapter (against the base's shapes) are checked before anything
 * is written; a tensor that fails on the way (a wrong shape, a float16 overflow) leaves no output.
 */
export function mergeAdapter(
  modelDir: string,
  adapterDir: string,
  outDir: string,
  options: MergeAdapterOptions = {},
): MergeAdapterResult {
  checkExportTarget(
    outDir,
    [
      { flag: "--model", dir: modelDir },
      { flag: "--adapter", dir: adapterDir },
    ],
    options.overwrite ?? false,
  );
  const config = loadHfConfig(modelDir);
  try {
    loadTokenizer(modelDir);
  } catch (error) {
    throw new Error(
      `the merged model needs the base model's tokenizer files, and they do not load: ${(error as Error).message}`,
    );
  }
  const requested = options.dtype ?? "auto";
  if (!EXPORT_DTYPES.includes(requested))
    throw new Error(
      `mergeAdapter: dtype must be one of ${EXPORT_DTYPES.join(", ")}, got ${JSON.stringify(requested)}`,
    );
  const dtype = resolveDtype(requested, config, modelDir);
  const notes: string[] = [];
  const computeDtype: DType = dtype === "float64" ? "float64" : "float32";
  const readers = {
    plain: new CheckpointReader(modelDir, { dtype, device: "cpu" }),
    compute: new CheckpointReader(modelDir, { dtype: computeDtype, device: "cpu" }),
  };
  let adapter: AdapterForMerge | undefined;
  try {
    checkBaseTensors(readers.plain, config, notes);
    adapter = readAdapterForMerge(adapterDir, config, modelDir);
    notes.push(...adapter.notes);
    const loaded = adapter;
    const entries = [...expectedTensors(config)].map(([name, shape]) =>
      tensorEntry(name, shape, dtype, readers, loaded),
    );
    const copiedFiles = filesToCopy(modelDir);
    writeDirectoryAtomically(outDir, (dir) => {
      writeSafetensors(join(dir, "model.safetensors"), entries, { format: "pt" });
      writeFileSync(join(dir, "config.json"), mergedConfigText(modelDir, dtype));
      for (const name of copiedFiles) copyFileSync(join(modelDir, name), join(dir, name));
    });
    const bytes = entries.reduce((sum, e) => sum + e.shape.reduce((n, d) => n * d, dtypeSize(dtype)), 0);
    return {
      outDir,
      dtype,
      tensors: entries.length,
      mergedProjections: loaded.pairs.size,
      r: loaded.settings.r,
      loraAlpha: loaded.settings.loraAlpha,
      scale: loaded.scale,
      bytes,
      copiedFiles,
      notes,
    };
  } finally {
    adapter?.dispose();
    readers.plain.close();
    readers.compute.close();
  }
}
