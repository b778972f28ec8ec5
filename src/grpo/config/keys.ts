import type { z } from "zod";
import { didYouMean } from "../../util/suggest.js";

/**
 * Finds keys a config layer (preset, file, `--set`) does not define, at every nesting level, so the
 * error can name the layer and suggest the closest valid key. Zod reports unknown keys too, but only
 * after the layers are merged, when it can no longer say which file the typo came from.
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
    const valid = Object.keys(shape);
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
