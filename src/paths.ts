import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package root (the folder holding package.json). Code runs both from `src/` (tsx) and from
 * `dist/src/` (compiled), so walk up rather than assume a fixed depth.
 */
function findPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "data"))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("wordle-grpo: cannot find the package root (package.json + data/)");
    dir = parent;
  }
}

export const PACKAGE_ROOT = findPackageRoot();
export const DATA_DIR = join(PACKAGE_ROOT, "data");
export const MODELS_DIR = join(PACKAGE_ROOT, "models");
export const FIXTURES_DIR = join(PACKAGE_ROOT, "test", "fixtures");

export function dataPath(name: string): string {
  return join(DATA_DIR, name);
}
