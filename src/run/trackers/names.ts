/**
 * The names `report_to` accepts (HF TrainingArguments' key). HF lists integrations and defaults to
 * every installed one; here a tracker runs only when named, so a run writes nothing beyond its
 * documented files and opens no connection unless asked (docs/run-files.md, "Experiment trackers").
 */

export const TRACKER_NAMES = ["tensorboard", "csv", "wandb"] as const;
export type TrackerName = (typeof TRACKER_NAMES)[number];

/**
 * Turn what a user may write into a list of names: a list, one name, names separated by commas (as
 * `--set report_to=tensorboard,csv` arrives), "all" (every tracker above), "none", an empty
 * string or null (no tracker), as HF accepts. Names are not checked here: the schema reports
 * unknown ones with the supported list. Anything else is returned as is for the schema to refuse.
 */
export function reportToList(value: unknown): unknown {
  if (value === null) return [];
  const items = typeof value === "string" ? value.split(",") : value;
  if (!Array.isArray(items)) return value;
  const names: unknown[] = [];
  for (const item of items) {
    const name = typeof item === "string" ? item.trim() : item;
    if (name === "" || name === "none") continue;
    for (const each of name === "all" ? TRACKER_NAMES : [name]) if (!names.includes(each)) names.push(each);
  }
  return names;
}
