import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { MODELS_DIR } from "../paths.js";
import type { GrpoConfig } from "./config/schema.js";

/** `model: null`: the model shipped in models/ (the one folder there with a config.json). */
export function resolveModelDir(config: GrpoConfig): string {
  if (config.model !== null) {
    if (!existsSync(join(config.model, "config.json")))
      throw new Error(
        `model ${config.model}: no config.json there (expected a Hugging Face model directory)`,
      );
    return config.model;
  }
  const shipped = existsSync(MODELS_DIR)
    ? readdirSync(MODELS_DIR)
        .filter((name) => existsSync(join(MODELS_DIR, name, "config.json")))
        .sort()
    : [];
  if (shipped.length === 0)
    throw new Error(`no model given (--model DIR or model = "...") and none shipped in ${MODELS_DIR}`);
  return join(MODELS_DIR, shipped[0]);
}
