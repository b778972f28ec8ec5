import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseToml } from "smol-toml";

/**
 * Reading config layers: a JSON or TOML file, and `--set key=value` overrides. Each returns a plain
 * nested object; merging and schema validation happen in config.ts.
 */

export type ConfigLayer = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Read a `.json` or `.toml` config file (other extensions: JSON first, then TOML). */
export function loadConfigFile(path: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`config file ${path}: cannot read it (${(err as Error).message})`);
  }
  const ext = extname(path).toLowerCase();
  const parsers: Array<["JSON" | "TOML", (t: string) => unknown]> =
    ext === ".toml"
      ? [["TOML", parseToml]]
      : ext === ".json"
        ? [["JSON", JSON.parse]]
        : [
            ["JSON", JSON.parse],
            ["TOML", parseToml],
          ];
  const failures: string[] = [];
  for (const [name, parse] of parsers) {
    try {
      const value = parse(text);
      if (!isPlainObject(value)) throw new Error("expected a table/object of settings at the top level");
      return value;
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new Error(`config file ${path}: not valid ${failures.join("; not valid ")}`);
}

/**
 * Parse one `--set` value. JSON syntax where it parses (numbers, true/false, null, ["a","b"], {...}),
 * otherwise the raw text as a string, so `--set reward.preset=seed` needs no quotes.
 */
export function parseOverrideValue(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    return trimmed;
  }
}

/** Turn `{"lora.r": 8}` or `{"lora": {"r": 8}}` into the nested form. */
export function nestDottedKeys(flat: Record<string, unknown>): ConfigLayer {
  const out: ConfigLayer = {};
  for (const [dotted, value] of Object.entries(flat)) {
    const parts = dotted.split(".");
    let node = out;
    parts.slice(0, -1).forEach((part) => {
      if (!isPlainObject(node[part])) node[part] = {};
      node = node[part] as ConfigLayer;
    });
    const last = parts[parts.length - 1]!;
    node[last] = isPlainObject(value) && isPlainObject(node[last]) ? deepMerge(node[last], value) : value;
  }
  return out;
}

/** `["lora.r=8", "beta=0.04"]` -> `{lora: {r: 8}, beta: 0.04}`. */
export function parseSetOverrides(assignments: readonly string[]): ConfigLayer {
  const flat: Record<string, unknown> = {};
  for (const assignment of assignments) {
    const eq = assignment.indexOf("=");
    const key = eq < 0 ? "" : assignment.slice(0, eq).trim();
    if (key === "" || !/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/.test(key)) {
      throw new Error(
        `--set ${JSON.stringify(assignment)}: expected key=value, e.g. --set learning_rate=5e-6`,
      );
    }
    flat[key.replaceAll("-", "_")] = parseOverrideValue(assignment.slice(eq + 1));
  }
  return nestDottedKeys(flat);
}

/** Merge `over` into `base`: objects merge key by key, everything else (arrays included) replaces. */
export function deepMerge(base: ConfigLayer, over: ConfigLayer): ConfigLayer {
  const out: ConfigLayer = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key];
    out[key] = isPlainObject(prior) && isPlainObject(value) ? deepMerge(prior, value) : value;
  }
  return out;
}

/** Whether a dotted path (`lora.r`) is set in a layer; used to say which layer a bad value came from. */
export function layerHasPath(layer: ConfigLayer, path: readonly PropertyKey[]): boolean {
  let node: unknown = layer;
  for (const key of path) {
    if (typeof node !== "object" || node === null || !(String(key) in node)) return false;
    node = (node as Record<string, unknown>)[String(key)];
  }
  return true;
}
