/**
 * What a person sees while training: a progress bar (cli-progress) with the step, seconds per
 * step, ETA, running rewards and the success criteria's state, and one status line per logged
 * step (the monitor's statusLine). Without a terminal (CI, a log file) only the lines are printed.
 */
import cliProgress from "cli-progress";
import type { MonitorFields } from "../run/monitor.js";

export interface TrainerEvents {
  /** Free-form messages: the run's setup, saves, evaluations, warnings. */
  message(text: string): void;
  /** After every optimizer step. */
  step(step: number, total: number, stepSeconds: number): void;
  /** After every logged row, with the monitor's status line. */
  logged(row: Record<string, unknown>, fields: MonitorFields, status: string): void;
  close(): void;
}

/** Events that go nowhere (library use, tests). */
export const silentEvents: TrainerEvents = {
  message() {},
  step() {},
  logged() {},
  close() {},
};

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "-";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, "0")}m` : `${m}m${String(s % 60).padStart(2, "0")}s`;
}

/**
 * What makes two warnings "the same": the text with its numbers taken out, so the plateau warning
 * ("gained 0.004 over the last 200 steps") or the zero-std one ("63% of groups") does not count as
 * new on every logged step because a figure moved.
 */
export function warningKey(warning: string): string {
  return warning.replace(/[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?%?/gi, "#");
}

/**
 * Keeps the console from repeating a warning on every logged step: `next(warnings)` returns the
 * ones to print for this step — those not in the previous step's warnings (by warningKey), so a
 * warning prints when it first fires, again when it changes (its words, not just its figures),
 * and again if it stops and later comes back. The status line still flags PLATEAU / ZERO-STD on
 * every step while they hold.
 */
export function warningDeduper(): { next(warnings: readonly string[]): string[] } {
  let previous = new Set<string>();
  return {
    next(warnings) {
      const keys = warnings.map(warningKey);
      const out = warnings.filter((_, i) => !previous.has(keys[i]));
      previous = new Set(keys);
      return out;
    },
  };
}

/** Console events on `stream` (stderr by default): a live bar on a TTY, plain lines otherwise. */
export function consoleEvents(stream: NodeJS.WriteStream = process.stderr): TrainerEvents {
  const live = stream.isTTY === true;
  let bar: cliProgress.SingleBar | null = null;
  let summary = "";
  let criteria = "";
  const recent: number[] = [];
  const warnings = warningDeduper();
  const print = (text: string) => {
    if (bar) bar.stop();
    stream.write(`${text}\n`);
    bar = null;
  };
  return {
    message: (text) => print(text),
    step(step, total, seconds) {
      recent.push(seconds);
      if (recent.length > 20) recent.shift();
      if (!live) return;
      const perStep = recent.reduce((a, b) => a + b, 0) / recent.length;
      const payload = {
        perStep: perStep.toFixed(2),
        eta: formatSeconds((total - step) * perStep),
        summary,
        criteria,
      };
      if (bar === null) {
        bar = new cliProgress.SingleBar(
          {
            stream,
            format: "step {value}/{total} [{bar}] {perStep} s/step | ETA {eta} | {summary} | {criteria}",
            barsize: 20,
            hideCursor: false,
            clearOnComplete: false,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(total, step, payload);
      } else {
        bar.update(step, payload);
      }
    },
    logged(row, fields, status) {
      const r = (key: string) => fields[`running/${key}` as `running/${string}`];
      summary = `reward ${r("reward")?.toFixed(2) ?? "-"}`;
      const met = fields.criteria.filter((c) => c.met).length;
      criteria = `criteria ${met}/${fields.criteria.length}${fields.criteria_met ? " MET" : ""}`;
      if (live && bar) {
        (bar as cliProgress.SingleBar).stop();
        bar = null;
      }
      stream.write(`${status}\n`);
      for (const w of warnings.next(fields.warnings)) stream.write(`  warning: ${w}\n`);
      void row;
    },
    close() {
      if (bar) bar.stop();
      bar = null;
    },
  };
}
