import type { Criterion, Milestone } from "../shared/protocol.js";
import type { RunData } from "../shared/run-data.js";
import { formatDuration, formatNumber, h, runColour } from "./format.js";
import { evalHint } from "./labels.js";

function maxSteps(run: RunData): number | null {
  const value = run.config?.max_steps;
  return typeof value === "number" && value > 0 ? value : null;
}

function numberField(run: RunData, key: string): number | null {
  const value = run.latest?.[key];
  return typeof value === "number" ? value : null;
}

/** The run chips at the top: name, step of max, seconds per step, ETA, reward now. */
export function renderRunSummary(runs: RunData[]): HTMLElement {
  return h(
    "div",
    { class: "run-summary" },
    ...runs.map((run) => {
      const max = maxSteps(run);
      const step = run.latest?.step ?? 0;
      const progress = max ? Math.min(1, step / max) : null;
      const ago = (Date.now() - run.lastWriteMs) / 1000;
      const finished = max !== null && step >= max;
      const fresh = finished ? "finished" : ago < 60 ? "live" : `idle ${formatDuration(ago)}`;
      const chip = h(
        "div",
        { class: "run-chip", "data-run": String(run.info.id), "data-step": String(step) },
        h("span", { class: "swatch", style: `background:${runColour(run.info.id)}` }),
        h("span", { class: "run-name" }, run.label),
        h(
          "span",
          { class: "run-step" },
          `step ${step.toLocaleString("en-US")}${max ? ` / ${max.toLocaleString("en-US")}` : ""}`,
        ),
        h("span", { class: "run-stat" }, `${formatNumber(numberField(run, "step_time"), 3)} s/step`),
        h("span", { class: "run-stat" }, `ETA ${formatDuration(numberField(run, "eta_seconds"))}`),
        h(
          "span",
          { class: "run-stat" },
          `reward ${formatNumber(numberField(run, "running/reward") ?? numberField(run, "reward"), 3)}`,
        ),
        h("span", { class: `run-fresh ${fresh.split(" ")[0]}` }, fresh),
        h(
          "a",
          { class: "run-files", href: `runs/${run.info.id}/config.json`, target: "_blank", rel: "noopener" },
          "config",
        ),
      );
      if (progress !== null) {
        chip.append(
          h(
            "span",
            { class: "progress" },
            h("span", {
              style: `width:${(progress * 100).toFixed(1)}%;background:${runColour(run.info.id)}`,
            }),
          ),
        );
      }
      return chip;
    }),
  );
}

function criterionRow(c: Criterion): HTMLElement {
  const state = c.met ? "met" : "unmet";
  return h(
    "tr",
    { class: `criterion ${state}` },
    h("td", { class: "expr" }, c.expr),
    h("td", { class: "num" }, formatNumber(c.value)),
    h("td", { class: "num" }, `${c.op ?? ""} ${formatNumber(c.threshold)}`),
    h("td", {}, h("span", { class: `badge ${state}` }, c.met ? "met" : "not met")),
    h(
      "td",
      { class: "num" },
      c.first_step === null ? "never yet" : `step ${c.first_step.toLocaleString("en-US")}`,
    ),
  );
}

/** Success criteria: each one's value against its threshold, met or not, and the first step it held. */
export function renderCriteria(runs: RunData[]): HTMLElement {
  const blocks = runs.map((run) => {
    const criteria = Array.isArray(run.latest?.criteria) ? (run.latest.criteria as Criterion[]) : [];
    const allMet = run.latest?.criteria_met === true;
    const first = run.latest?.criteria_first_step;
    const checkpoint = run.latest?.criteria_checkpoint_step;
    const heading = h(
      "div",
      { class: "block-head" },
      h("span", { class: "swatch", style: `background:${runColour(run.info.id)}` }),
      h("span", { class: "run-name" }, run.label),
      criteria.length === 0
        ? h("span", { class: "muted" }, "no criteria logged yet")
        : h(
            "span",
            { class: `badge ${allMet ? "met" : "unmet"}` },
            allMet ? "all criteria met" : "criteria not met",
          ),
      typeof first === "number"
        ? h("span", { class: "muted" }, `first met at step ${first.toLocaleString("en-US")}`)
        : null,
      typeof checkpoint === "number"
        ? h("span", { class: "muted" }, `· earliest useful checkpoint: checkpoint-${checkpoint}`)
        : null,
    );
    if (criteria.length === 0) return h("div", { class: "run-block" }, heading);
    return h(
      "div",
      { class: "run-block" },
      heading,
      h(
        "table",
        { class: "criteria" },
        h(
          "thead",
          {},
          h("tr", {}, ...["criterion", "now", "threshold", "", "first held"].map((t) => h("th", {}, t))),
        ),
        h("tbody", {}, ...criteria.map(criterionRow)),
      ),
    );
  });
  return h("div", {}, ...blocks);
}

const STATUS_TEXT: Record<string, string> = { pass: "pass", fail: "fail", pending: "pending" };

/** Milestones on a step axis: pass (green), fail (red), pending (grey), with the current step marked. */
export function renderMilestones(runs: RunData[]): HTMLElement {
  const blocks = runs.map((run) => {
    const milestones = Array.isArray(run.latest?.milestones) ? (run.latest.milestones as Milestone[]) : [];
    const head = h(
      "div",
      { class: "block-head" },
      h("span", { class: "swatch", style: `background:${runColour(run.info.id)}` }),
      h("span", { class: "run-name" }, run.label),
      milestones.length === 0 ? h("span", { class: "muted" }, "no milestones logged yet") : null,
    );
    if (milestones.length === 0) return h("div", { class: "run-block" }, head);
    const end = Math.max(maxSteps(run) ?? 0, ...milestones.map((m) => m.step), run.latest?.step ?? 0, 1);
    const track = h("div", { class: "timeline" }, h("div", { class: "timeline-line" }));
    const step = run.latest?.step ?? 0;
    track.append(
      h("div", {
        class: "timeline-done",
        style: `width:${((100 * step) / end).toFixed(2)}%;background:${runColour(run.info.id)}`,
      }),
    );
    for (const m of milestones) {
      const status = STATUS_TEXT[m.status] ? m.status : "pending";
      track.append(
        h(
          "div",
          {
            class: `milestone ${status}`,
            style: `left:${((100 * m.step) / end).toFixed(2)}%`,
            title: m.label,
          },
          h("span", { class: "dot" }),
          h("span", { class: "milestone-step" }, m.step.toLocaleString("en-US")),
        ),
      );
    }
    const list = h(
      "table",
      { class: "milestone-list" },
      h(
        "tbody",
        {},
        ...milestones.map((m) => {
          const status = STATUS_TEXT[m.status] ? m.status : "pending";
          return h(
            "tr",
            { class: `milestone-row ${status}`, title: m.expect },
            h("td", { class: "num" }, `by ${m.step.toLocaleString("en-US")}`),
            h("td", {}, m.label),
            h("td", { class: "num" }, m.value == null ? "" : `was ${formatNumber(m.value)}`),
            h("td", {}, h("span", { class: `badge ${status}` }, STATUS_TEXT[status])),
          );
        }),
      ),
    );
    return h("div", { class: "run-block" }, head, track, list);
  });
  return h("div", {}, ...blocks);
}

/** Warnings from the monitor (plateau, zero-std groups) and problems reading the run files. */
export function renderWarnings(runs: RunData[]): HTMLElement | null {
  const items: HTMLElement[] = [];
  runs.forEach((run) => {
    const tag = (text: string, kind: string): HTMLElement =>
      h(
        "li",
        { class: kind },
        h("span", { class: "swatch", style: `background:${runColour(run.info.id)}` }),
        `${run.label}: ${text}`,
      );
    if (run.latest?.plateau === true) {
      items.push(
        tag(
          `plateau: running reward gained ${formatNumber(numberField(run, "plateau_gain"))} over the plateau window`,
          "warn",
        ),
      );
    }
    const warnings = run.latest?.warnings;
    if (Array.isArray(warnings)) for (const w of warnings) items.push(tag(String(w), "warn"));
    for (const p of run.problems.slice(-5)) items.push(tag(p, "problem"));
  });
  return items.length === 0 ? null : h("ul", { class: "warnings" }, ...items);
}

/**
 * Above the Evaluation charts, for each run without an evaluation row yet: why the panel is empty
 * (evaluations every eval_steps, and the next one's step; or only at the end of the run).
 */
export function renderEvalHint(runs: RunData[]): HTMLElement | null {
  const items: HTMLElement[] = [];
  for (const run of runs) {
    const text = evalHint(run.config, run.latest?.step ?? 0, run.evalRows.length > 0);
    if (text === null) continue;
    items.push(
      h(
        "li",
        { class: "muted", "data-run": String(run.info.id) },
        h("span", { class: "swatch", style: `background:${runColour(run.info.id)}` }),
        runs.length > 1 ? `${run.label}: ${text}` : text,
      ),
    );
  }
  return items.length === 0 ? null : h("ul", { class: "eval-hint" }, ...items);
}
