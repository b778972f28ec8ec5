/**
 * The model `serve` answers with: a Hugging Face model directory, an optional PEFT LoRA adapter on
 * it, the device and dtype chosen as evaluation chooses them (a small model on the CPU stays in
 * float32 on one engine thread, where it is fastest), and the name clients call it by.
 */
import { existsSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import {
  bestDevice,
  bf16MatmulIsFast,
  type Device,
  type DType,
  deviceProblem,
  setNumThreads,
} from "../engine/index.js";
import { loadHfConfig } from "../model/hf-config.js";
import { loadLora, loadModel, loadTokenizer, type Model } from "../model/load.js";
import type { Tokenizer } from "../model/tokenizer.js";

export interface ServedModelSettings {
  model: string;
  adapter?: string;
  /** auto, cpu, cuda, cuda:N, mps. */
  device?: string;
  /** auto, float32, bfloat16, float16. */
  dtype?: string;
  threads?: number;
  /** Default: the adapter's folder name, else the model's. */
  name?: string;
}

export interface ServedModel {
  model: Model;
  tokenizer: Tokenizer;
  name: string;
  description: string;
}

/** Hidden sizes up to this are "small": float32 and one thread on the CPU (as eval decides). */
const SMALL_HIDDEN_SIZE = 256;

export async function loadServedModel(settings: ServedModelSettings): Promise<ServedModel> {
  if (!existsSync(join(settings.model, "config.json")))
    throw new Error(
      `--model ${settings.model}: no config.json there (expected a Hugging Face model directory)`,
    );
  if (settings.adapter !== undefined && !existsSync(join(settings.adapter, "adapter_config.json")))
    throw new Error(
      `--adapter ${settings.adapter}: no adapter_config.json there (expected a PEFT LoRA directory)`,
    );
  const deviceName = settings.device ?? "auto";
  if (!/^(auto|cpu|mps|cuda(:\d+)?)$/.test(deviceName))
    throw new Error(`--device must be auto, cpu, mps, cuda or cuda:N; got ${JSON.stringify(deviceName)}`);
  const dtypeName = settings.dtype ?? "auto";
  if (!["auto", "float32", "bfloat16", "float16"].includes(dtypeName))
    throw new Error(`--dtype must be auto, float32, bfloat16 or float16; got ${JSON.stringify(dtypeName)}`);
  const device = (deviceName === "auto" ? bestDevice() : deviceName) as Device;
  const small = device === "cpu" && loadHfConfig(settings.model).hiddenSize <= SMALL_HIDDEN_SIZE;
  const dtype = (
    dtypeName === "auto" ? (!small && bf16MatmulIsFast(device) ? "bfloat16" : "float32") : dtypeName
  ) as DType;
  const problem = deviceProblem(device, dtype);
  if (problem !== null) throw new Error(problem);
  const threads = settings.threads ?? (small && process.env.OMP_NUM_THREADS === undefined ? 1 : undefined);
  if (threads !== undefined) setNumThreads(threads);
  const model = await loadModel(settings.model, { device, dtype });
  try {
    const tokenizer = loadTokenizer(settings.model);
    if (settings.adapter !== undefined) loadLora(model, settings.adapter);
    model.training = false;
    return {
      model,
      tokenizer,
      name: settings.name ?? basename(resolve(settings.adapter ?? settings.model)),
      description:
        `model ${settings.model}${settings.adapter !== undefined ? ` + adapter ${settings.adapter}` : ""} ` +
        `(${device}, ${dtype})`,
    };
  } catch (error) {
    model.dispose();
    throw error;
  }
}
