#!/usr/bin/env node
// npm `install` step: builds the libtorch addon (native/build/Release/wordle_torch.node) with
// node-gyp when wordle-grpo is installed from the npm package. It never fails the install: where
// libtorch is absent or the build fails it prints how to provide libtorch and exits 0, and the
// commands that need no libtorch (solve, plan, dashboard) still work.
//
// Skipped (exit 0, nothing built):
//   - in a source checkout (a .git next to package.json): scripts/setup.sh builds the addon there
//     (npm run build:native), so `npm ci` is not slowed down by a second build;
//   - when the addon is already built (except under `npm rebuild`);
//   - when WORDLE_GRPO_SKIP_NATIVE=1.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const native = join(root, "native");
const addon = join(native, "build", "Release", "wordle_torch.node");

const HOW = [
  "wordle-grpo: the libtorch addon was not built, so train, eval, play, serve, sft and export will not run",
  "(solve, plan and dashboard work without it). Provide libtorch in one of these ways, then run `npm rebuild wordle-grpo`:",
  "  1. LIBTORCH=/path/to/libtorch npm rebuild wordle-grpo   (a directory with include/ and lib/, e.g. unzipped from pytorch.org)",
  "  2. pip install torch   (the build uses python3's torch)",
  "  3. apt-get install -y libtorch-dev libgloo-dev   (Debian 12 / Ubuntu)",
].join("\n");

function skip(reason) {
  if (reason) console.log(`wordle-grpo: ${reason}`);
  process.exit(0);
}

if (process.env.WORDLE_GRPO_SKIP_NATIVE === "1") skip("WORDLE_GRPO_SKIP_NATIVE=1: not building the libtorch addon");
if (existsSync(join(root, ".git"))) skip(null); // a checkout: scripts/setup.sh / npm run build:native build it
// `npm rebuild wordle-grpo` (npm_command=rebuild) builds again, e.g. after libtorch was upgraded.
if (existsSync(addon) && process.env.npm_command !== "rebuild") skip(null);

// libtorch first (cheap): find-libtorch.cjs exits non-zero with the ways to provide it.
try {
  const where = execFileSync(process.execPath, [join(native, "find-libtorch.cjs"), "describe"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
  console.log(`wordle-grpo: building the libtorch addon against ${where}`);
} catch {
  console.warn(HOW);
  process.exit(0);
}

/** node-gyp: npm's own (npm_config_node_gyp, set for lifecycle scripts), an installed one, or PATH's. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, fromNpm];
  try {
    return [process.execPath, createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js")];
  } catch {
    return ["node-gyp"];
  }
}

const args = ["rebuild", "--directory", native, "--jobs", "max"];
// Use the headers beside this node when they are there (Debian's nodejs: /usr/include/node), so the
// build needs no download.
const prefix = dirname(dirname(process.execPath));
if (existsSync(join(prefix, "include", "node", "common.gypi"))) args.push(`--nodedir=${prefix}`);

const [cmd, ...pre] = nodeGyp();
const result = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: "inherit" });
if (result.status !== 0 || !existsSync(addon)) {
  console.warn(`wordle-grpo: building the libtorch addon failed (node-gyp ${result.error?.message ?? `exit ${result.status}`}).`);
  console.warn(HOW);
}
process.exit(0);
