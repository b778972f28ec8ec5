// The layer map of docs/architecture.md and a reader of src/'s imports, for the architecture test
// (`node --test dist/test/architecture.test.js` prints any import that breaks the order).
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Each folder of src/ (and src/'s own files) with its layer: imports go only downwards. */
export const LAYERS: Record<string, number> = {
  util: 0, // Rng, caches, suggestions, atomic files: no imports inside src/
  paths: 0, // src/paths.ts: where the repository's data lives
  engine: 1, // tensors on libtorch
  wordle: 1, // the game, feedback, solvers
  model: 2, // transformer, LoRA, tokenizer, sampler
  task: 3, // prompts, parsing, rewards, the model-facing game
  run: 3, // run directories, metrics files, the monitor
  eval: 4, // evaluation games and policies
  sft: 5, // supervised warm-up
  grpo: 6, // the GRPO trainer
  dashboard: 7, // the live page and its server
  serve: 7, // the OpenAI-compatible model server
  cli: 8, // the command line
  index: 9, // src/index.ts: the package's public API
};

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "src");

/** The folder of a file under src/ (a file directly in src/ is its own name without extension). */
function folderOf(file: string): string {
  const parts = relative(SRC, file).split("/");
  return parts.length === 1 ? (parts[0] as string).replace(/\.ts$/, "") : (parts[0] as string);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "web" ? [] : sourceFiles(path); // the page is bundled apart
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** folder -> imported folder -> the files that import it. */
export function folderImports(): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  for (const file of sourceFiles(SRC)) {
    const from = folderOf(file);
    const edges = out.get(from) ?? new Map<string, string[]>();
    out.set(from, edges);
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = resolve(dirname(file), match[1] as string);
      if (!target.startsWith(SRC)) continue;
      const to = folderOf(target.replace(/\.js$/, ".ts"));
      if (to === from) continue;
      const files = edges.get(to) ?? [];
      files.push(relative(resolve(SRC, ".."), file));
      edges.set(to, files);
    }
  }
  return out;
}

/** Imports from a folder to one of the same or a higher layer. */
export function layerViolations(
  imports: Map<string, Map<string, string[]>> = folderImports(),
): { from: string; to: string; text: string }[] {
  const out: { from: string; to: string; text: string }[] = [];
  for (const [from, edges] of imports)
    for (const [to, files] of edges) {
      const a = LAYERS[from];
      const b = LAYERS[to];
      if (a !== undefined && b !== undefined && b < a) continue;
      for (const file of new Set(files))
        out.push({
          from,
          to,
          text: `${file} imports src/${to} (layer ${b ?? "?"}), not below src/${from} (layer ${a ?? "?"})`,
        });
    }
  return out;
}
