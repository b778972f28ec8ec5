import { findUnknownKeys, translateTrlKeys } from "./keys.js";
import {
  type ConfigLayer,
  deepMerge,
  layerHasPath,
  loadConfigFile,
  nestDottedKeys,
  parseSetOverrides,
} from "./load.js";
import { getPreset } from "./presets.js";
import { configSchema, type GrpoConfig } from "./schema.js";
import { validateConfig } from "./validate.js";

/**
 * Resolving a training configuration: preset, then a JSON/TOML/YAML file, then overrides (`--set k=v`
 * or CLI flags), each layer on top of the previous; then the schema (types, ranges, defaults) and
 * the cross-setting checks. Every problem is reported at once, naming the layer it came from.
 * A layer may be a TRL GRPOConfig: its keys that do nothing here are dropped with a warning each
 * (trl-keys.ts), so only truly unknown keys are errors.
 */

export * from "./schema.js";
export { type ConfigProblems, validateConfig } from "./validate.js";

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration:\n${problems.map((p) => `  - ${p.replaceAll("\n", "\n    ")}`).join("\n")}`,
    );
  }
}

export interface ResolveOptions {
  /** Preset name (default: "default"). */
  preset?: string;
  /** Path of a .json, .toml, .yaml or .yml config file. */
  file?: string;
  /** `["lora.r=8", ...]` as from `--set`, or an object (dotted keys allowed), e.g. from CLI flags. */
  overrides?: readonly string[] | Record<string, unknown>;
}

export interface ResolvedConfig {
  config: GrpoConfig;
  /** Legal but suspicious settings, for the console. */
  warnings: string[];
}

interface Layer {
  label: string;
  values: ConfigLayer;
}

export function resolveConfig(options: ResolveOptions = {}): ResolvedConfig {
  const presetName = options.preset ?? "default";
  const layers: Layer[] = [
    { label: `preset "${presetName}"`, values: getPreset(presetName).config as ConfigLayer },
  ];
  if (options.file !== undefined)
    layers.push({ label: `config file ${options.file}`, values: loadConfigFile(options.file) });
  if (options.overrides !== undefined) {
    const values = Array.isArray(options.overrides)
      ? parseSetOverrides(options.overrides as readonly string[])
      : nestDottedKeys(options.overrides as Record<string, unknown>);
    layers.push({ label: "overrides (--set / flags)", values });
  }
  return resolveLayers(layers);
}

/** At most this many names in the line for TRL keys left out at values that change nothing. */
const QUIET_NAMES_SHOWN = 8;

/**
 * Drop each layer's TRL-only keys (rename exact equivalents), collecting one warning per key that
 * someone set to a value that asks for something, and one line per layer for the rest.
 */
function translateTrlLayers(layers: readonly Layer[]): {
  layers: Layer[];
  warnings: string[];
  problems: string[];
} {
  const warnings: string[] = [];
  const problems: string[] = [];
  const translated = layers.map((layer) => {
    const trl = translateTrlKeys(configSchema, layer.values);
    warnings.push(...trl.ignored.map((line) => `${layer.label}: ${line}`));
    const quiet = trl.ignoredQuietly;
    if (quiet.length > 0) {
      const names = quiet.slice(0, QUIET_NAMES_SHOWN).join(", ");
      const more = quiet.length > QUIET_NAMES_SHOWN ? ` and ${quiet.length - QUIET_NAMES_SHOWN} more` : "";
      warnings.push(
        `${layer.label}: ignored ${quiet.length} TRL setting${quiet.length === 1 ? "" : "s"} whose values ask for ` +
          `what happens here anyway: ${names}${more} (docs/training.md, "TRL configs")`,
      );
    }
    problems.push(...trl.conflicts.map((line) => `${layer.label}: ${line}`));
    return { label: layer.label, values: trl.values };
  });
  return { layers: translated, warnings, problems };
}

/** Merge and validate explicit layers (lowest priority first). */
export function resolveLayers(givenLayers: readonly Layer[]): ResolvedConfig {
  const { layers, warnings: trlWarnings, problems } = translateTrlLayers(givenLayers);
  for (const layer of layers) {
    for (const unknown of findUnknownKeys(configSchema, layer.values)) {
      problems.push(`${layer.label}: ${unknown.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const merged = layers.reduce<ConfigLayer>((acc, layer) => deepMerge(acc, layer.values), {});
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path.map(String).join(".") || "(top level)";
      const from = [...layers].reverse().find((l) => layerHasPath(l.values, issue.path));
      const value = issue.path.reduce<unknown>(
        (node, key) => (node as Record<string, unknown> | undefined)?.[String(key)],
        merged,
      );
      problems.push(
        `${path}: ${issue.message}${value === undefined ? "" : ` (got ${JSON.stringify(value)})`}` +
          (from ? ` [from ${from.label}]` : ""),
      );
    }
    throw new ConfigError(problems);
  }
  const { errors, warnings } = validateConfig(parsed.data);
  if (errors.length > 0) throw new ConfigError(errors);
  return { config: parsed.data, warnings: [...trlWarnings, ...warnings] };
}

/** Validate an already-merged object (e.g. a run's saved config.json when resuming). */
export function parseConfig(values: unknown, label = "config"): ResolvedConfig {
  if (typeof values !== "object" || values === null || Array.isArray(values)) {
    throw new ConfigError([`${label}: expected an object of settings`]);
  }
  return resolveLayers([{ label, values: values as ConfigLayer }]);
}
