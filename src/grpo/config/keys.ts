import { isDeepStrictEqual } from "node:util";
import type { z } from "zod";
import { didYouMean } from "../../util/suggest.js";
import { TRL_EQUIVALENT_KEYS, TRL_IGNORED_KEYS, TRL_NULL_MEANS_DEFAULT } from "./trl-keys.js";

/**
 * Finds keys a config layer (preset, file, `--set`) does not define, at every nesting level, so the
 * error can name the layer and suggest the closest valid key. Zod reports unknown keys too, but only
 * after the layers are merged, when it can no longer say which file the typo came from.
 * Before that, translateTrlKeys takes out a layer's TRL keys that are known but do nothing here
 * (trl-keys.ts), so that only keys nobody defines are errors.
 */

export interface UnknownKey {
  /** Dotted path of the unknown key, e.g. `lora.rank` or `milestones[1].expected`. */
  path: string;
  message: string;
}

type Def = { type: string; [field: string]: unknown };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Strip wrappers that do not change which keys an object accepts (defaults, optional, pipes...). */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    const def = defOf(s);
    if (def.type === "pipe") s = def.in as z.ZodType;
    else if (
      ["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"].includes(def.type)
    )
      s = def.innerType as z.ZodType;
    else return s;
  }
}

function objectShape(schema: z.ZodType): Record<string, z.ZodType> | undefined {
  const def = defOf(unwrap(schema));
  return def.type === "object" ? (def.shape as Record<string, z.ZodType>) : undefined;
}

function arrayElement(schema: z.ZodType): z.ZodType | undefined {
  const def = defOf(unwrap(schema));
  return def.type === "array" ? (def.element as z.ZodType) : undefined;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function findUnknownKeys(schema: z.ZodType, value: unknown, prefix = ""): UnknownKey[] {
  const found: UnknownKey[] = [];
  const shape = objectShape(schema);
  if (shape && isPlainObject(value)) {
    // At the top level a TRL key is a plausible intent too (`use_vlm`), though it does nothing here.
    const valid = prefix === "" ? [...Object.keys(shape), ...TRL_IGNORED_KEYS.keys()] : Object.keys(shape);
    for (const [key, child] of Object.entries(value)) {
      const path = prefix === "" ? key : `${prefix}.${key}`;
      const childSchema = shape[key];
      if (childSchema === undefined) {
        const where = prefix === "" ? "" : ` in \`${prefix}\``;
        found.push({ path, message: `unknown key \`${key}\`${where}.${didYouMean(key, valid)}` });
      } else {
        found.push(...findUnknownKeys(childSchema, child, path));
      }
    }
  }
  const element = arrayElement(schema);
  if (element && Array.isArray(value)) {
    value.forEach((item, i) => {
      found.push(...findUnknownKeys(element, item, `${prefix}[${i}]`));
    });
  }
  return found;
}

/** Every settable dotted key (`learning_rate`, `lora.r`, `plateau.window`, ...), for help and suggestions. */
export function settableKeys(schema: z.ZodType, prefix = ""): string[] {
  const shape = objectShape(schema);
  if (!shape) return [];
  const keys: string[] = [];
  for (const [key, child] of Object.entries(shape)) {
    const path = prefix === "" ? key : `${prefix}.${key}`;
    keys.push(path);
    keys.push(...settableKeys(child, path));
  }
  return keys;
}

export interface TrlTranslation {
  /** The layer without TRL-only keys, their exact equivalents renamed to the keys here. */
  values: Record<string, unknown>;
  /** One line per TRL key with no effect here, at a value someone chose: the key, value and reason. */
  ignored: string[];
  /** TRL keys left out at values that ask for what happens here anyway (mostly TRL's defaults). */
  ignoredQuietly: string[];
  /** A TRL key and its equivalent here set to different values in one layer. */
  conflicts: string[];
}

/** A value for a one-line message, cut short (a `deepspeed` dict can be long). */
function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Read one layer's top-level TRL keys (trl-keys.ts): keys of the schema pass through, except a null
 * that TRL uses for "the default"; TRL keys with no effect are dropped, each noted; exact
 * equivalents are renamed. Everything else is left in place for findUnknownKeys.
 */
export function translateTrlKeys(schema: z.ZodType, layer: Record<string, unknown>): TrlTranslation {
  const shape = objectShape(schema) ?? {};
  const out: TrlTranslation = { values: {}, ignored: [], ignoredQuietly: [], conflicts: [] };
  const renamed: Array<{ from: string; value: unknown; to: string; converted: unknown }> = [];
  for (const [key, value] of Object.entries(layer)) {
    if (Object.hasOwn(shape, key)) {
      if (!(value === null && TRL_NULL_MEANS_DEFAULT.has(key))) out.values[key] = value;
      continue;
    }
    const ignored = TRL_IGNORED_KEYS.get(key);
    const equivalent = TRL_EQUIVALENT_KEYS.get(key);
    if (ignored !== undefined) {
      if (ignored.sameAsHere.some((v) => isDeepStrictEqual(v, value))) out.ignoredQuietly.push(key);
      else
        out.ignored.push(`\`${key} = ${show(value)}\` has no effect here and is ignored: ${ignored.reason}`);
    } else if (equivalent !== undefined) {
      const converted = equivalent.convert(value);
      if (converted === undefined) out.ignoredQuietly.push(key);
      else renamed.push({ from: key, value, to: equivalent.to, converted });
    } else {
      out.values[key] = value;
    }
  }
  for (const { from, value, to, converted } of renamed) {
    const claim = `\`${from} = ${show(value)}\` means \`${to} = ${show(converted)}\` here`;
    if (Object.hasOwn(out.values, to) && !isDeepStrictEqual(out.values[to], converted)) {
      const other = renamed.find(
        (r) => r.to === to && r.from !== from && isDeepStrictEqual(r.converted, out.values[to]),
      );
      const setBy =
        other === undefined
          ? `\`${to} = ${show(out.values[to])}\``
          : `\`${other.from} = ${show(other.value)}\``;
      out.conflicts.push(`${claim}, but the same layer sets ${setBy}: keep one`);
    } else {
      out.values[to] = converted;
    }
  }
  return out;
}
