import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { parse as parseToml } from "smol-toml";
import { parseDocument } from "yaml";

/**
 * Reading config layers: a JSON, TOML or YAML file, and `--set key=value` overrides. Each returns a
 * plain nested object; merging and schema validation happen in config.ts.
 */

export type ConfigLayer = Record<string, unknown>;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Date);

type Format = "JSON" | "TOML" | "YAML";

/**
 * YAML 1.2 (so `1e-6` is a number and `yes` a string). A file of comments only holds no settings,
 * like an empty TOML file. The parser's message ends with the line and column, which is the part
 * of its error that is kept.
 */
function parseYaml(text: string): unknown {
  const doc = parseDocument(text);
  const error = doc.errors[0];
  if (error !== undefined) throw new Error(error.message.split("\n")[0]!.replace(/:$/, ""));
  return doc.contents === null ? {} : doc.toJS();
}

const PARSERS: Record<Format, (text: string) => unknown> = {
  JSON: JSON.parse,
  TOML: parseToml,
  YAML: parseYaml,
};

/** The formats to try for a file name: its extension's, or all of them (JSON and TOML first). */
function formatsFor(path: string): Format[] {
  const ext = extname(path).toLowerCase();
  if (ext === ".json") return ["JSON"];
  if (ext === ".toml") return ["TOML"];
  if (ext === ".yaml" || ext === ".yml") return ["YAML"];
  return ["JSON", "TOML", "YAML"];
}

/** Read a `.json`, `.toml`, `.yaml` or `.yml` config file (other extensions: each format in turn). */
export function loadConfigFile(path: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`config file ${path}: cannot read it (${(err as Error).message})`);
  }
  const failures: string[] = [];
  for (const name of formatsFor(path)) {
    try {
      const value = PARSERS[name](text);
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
