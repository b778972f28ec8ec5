// How a missing libtorch addon is reported. Kept apart from native.ts, which loads the addon when
// imported: code that must run without libtorch (the CLI's entry, `plan`) can recognise the error.

/** How to get the addon, for messages (one line): npm rebuild, LIBTORCH, pip's torch or apt's libtorch-dev. */
export const ADDON_HOW_TO_BUILD =
  "install libtorch (apt-get install libtorch-dev, pip install torch, or set LIBTORCH=/path/to/libtorch), " +
  "then run `npm rebuild wordle-grpo` (in a source checkout: npm run build:native)";

/** The error code of a missing or unloadable addon, so the CLI can print one line instead of a stack trace. */
export const ADDON_UNAVAILABLE = "WORDLE_GRPO_ADDON_UNAVAILABLE";

export function addonUnavailable(message: string): Error {
  return Object.assign(new Error(message), { code: ADDON_UNAVAILABLE });
}

/** Whether `err` is the error importing the engine throws where the addon is missing or unloadable. */
export function isAddonUnavailable(err: unknown): err is Error {
  return (err as { code?: unknown } | null)?.code === ADDON_UNAVAILABLE;
}
