import { basename, join } from "node:path";
import { describeJsonlProblem, JsonlTail, type JsonlVisitor } from "./jsonl-tail.js";
import { MAX_CONFIG_BYTES } from "./limits.js";
import { MetricColumns } from "./metric-columns.js";
import { notRegularReason, openRegularFile } from "./regular-file.js";
import type { EvalGame, MetricsRow, RunInfo, RunInit, SampleRow } from "./shared/protocol.js";
import { isEvalRow } from "./shared/protocol.js";
import { checkEvalGame, checkMetricsRow, checkSampleRow } from "./validate-rows.js";

/** What changed in one poll; the server turns it into events. */
export interface RunUpdate {
  reset: boolean;
  config?: Record<string, unknown> | null;
  metrics?: { start: number; rows: MetricsRow[] };
  evalRows?: MetricsRow[];
  samples?: SampleRow[];
  games?: EvalGame[];
  problems: string[];
  /** A file holds more than this poll read (its byte budget ran out): poll again soon. */
  more: boolean;
}

/** The page shows the newest samples only; older ones stay in samples.jsonl. */
const KEEP_SAMPLES = 64;
/** Boards for the newest evaluations only (an eval can have hundreds of games). */
const KEEP_GAME_STEPS = 4;
const KEEP_PROBLEMS = 50;
/** More new training rows than this in one poll are announced as a reset (the page reloads them in binary). */
export const MAX_ROWS_PER_UPDATE = 2000;

/**
 * Everything the dashboard knows about one run directory, kept up to date by `poll()`, which
 * reads whatever the trainer appended since the last poll.
 */
export class RunState {
  readonly info: RunInfo;
  config: Record<string, unknown> | null = null;
  columns = new MetricColumns();
  latest: MetricsRow | null = null;
  evalRows: MetricsRow[] = [];
  samples: SampleRow[] = [];
  games: EvalGame[] = [];
  problems: string[] = [];
  private configMtimeMs = -1;
  /** The column store whose overflow (too many keys) was last reported. */
  private overflowReportedFor: MetricColumns | null = null;
  /** The last problem with config.json as a file (not a regular file, too big), said once. */
  private configRefusal: string | null = null;
  private metricsTail: JsonlTail;
  private samplesTail: JsonlTail;
  private gamesTail: JsonlTail;

  constructor(
    id: number,
    readonly dir: string,
  ) {
    this.info = { id, label: this.baseLabel, dir };
    this.metricsTail = new JsonlTail(join(dir, "metrics.jsonl"));
    // Only the newest samples and games are shown, so a long run's big files are read from near the end.
    this.samplesTail = new JsonlTail(join(dir, "samples.jsonl"), { startNearEnd: 512 * 1024 });
    this.gamesTail = new JsonlTail(join(dir, "eval-games.jsonl"), { startNearEnd: 4 * 1024 * 1024 });
  }

  /** The run's name before disambiguation: `run_name` from config.json, else the folder name. */
  get baseLabel(): string {
    const name = this.config?.run_name;
    return typeof name === "string" && name !== "" ? name : basename(this.dir);
  }

  init(): RunInit {
    return {
      run: this.info,
      config: this.config,
      keys: [...this.columns.keys],
      rowCount: this.columns.rowCount,
      latest: this.latest,
      evalRows: this.evalRows,
      samples: this.samples,
      games: this.games,
      problems: this.problems,
      lastWriteMs: this.metricsTail.lastModifiedMs,
    };
  }

  /**
   * Reads what changed since the last poll, each file up to its byte budget (`update.more` says
   * whether any had more). Stops between chunks once `signal` is aborted (the server is closing).
   */
  async poll(signal?: AbortSignal): Promise<RunUpdate> {
    const update: RunUpdate = { reset: false, problems: [], more: false };
    await this.pollConfig(update);
    if (await this.pollMetrics(update, signal)) update.more = true;
    if (await this.pollSamples(update, signal)) update.more = true;
    if (await this.pollGames(update, signal)) update.more = true;
    for (const p of update.problems) this.problems.push(p);
    if (this.problems.length > KEEP_PROBLEMS) this.problems.splice(0, this.problems.length - KEEP_PROBLEMS);
    return update;
  }

  private async pollConfig(update: RunUpdate): Promise<void> {
    const path = join(this.dir, "config.json");
    const opened = await openRegularFile(path).catch(() => null);
    if (opened === null || opened.kind === "missing") return;
    if (opened.kind === "not-regular") {
      this.refuseConfig(`${path}: ${notRegularReason(opened.what)}`, update);
      return;
    }
    const { handle, stats } = opened;
    try {
      if (stats.mtimeMs === this.configMtimeMs) return;
      if (stats.size > MAX_CONFIG_BYTES) {
        this.refuseConfig(
          `${path}: ${stats.size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit; not read`,
          update,
        );
        return;
      }
      this.configMtimeMs = stats.mtimeMs;
      this.configRefusal = null;
      const parsed: unknown = JSON.parse(await handle.readFile("utf8"));
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new Error("expected a JSON object");
      }
      this.config = parsed as Record<string, unknown>;
      update.config = this.config;
    } catch (err) {
      // The trainer writes config.json atomically, so a parse error is a real problem; retry on next change.
      update.problems.push(`${path}: ${(err as Error).message}`);
    } finally {
      await handle.close();
    }
  }

  /** Reports a config.json that cannot be read as a file, once until it changes. */
  private refuseConfig(message: string, update: RunUpdate): void {
    this.configMtimeMs = -1;
    if (message === this.configRefusal) return;
    this.configRefusal = message;
    update.problems.push(message);
  }

  private async pollMetrics(update: RunUpdate, signal?: AbortSignal): Promise<boolean> {
    let start = this.columns.rowCount;
    let trainRows: MetricsRow[] = [];
    const evalRows: MetricsRow[] = [];
    const visitor: JsonlVisitor = {
      restart: () => {
        this.columns = new MetricColumns();
        this.latest = null;
        this.evalRows = [];
        update.reset = true;
        start = 0;
        trainRows = [];
        evalRows.length = 0;
      },
      problem: (p) => update.problems.push(describeJsonlProblem(p)),
      line: ({ where, value }) => {
        const error = checkMetricsRow(value);
        if (error) {
          update.problems.push(`${this.metricsTail.path} ${where}: ${error}`);
          return;
        }
        const row = value as MetricsRow;
        if (isEvalRow(row)) {
          this.takeInlineGames(row, update);
          evalRows.push(row);
          return;
        }
        this.columns.push(row);
        this.latest = row;
        // A large backlog goes to the page as binary columns (a fresh init), not as JSON rows.
        if (trainRows.length <= MAX_ROWS_PER_UPDATE) trainRows.push(row);
      },
    };
    const more = await this.metricsTail.visit(visitor, signal);
    const added = this.columns.rowCount - start;
    if (added > MAX_ROWS_PER_UPDATE) update.reset = true;
    else if (added > 0) update.metrics = { start, rows: trainRows };
    if (evalRows.length > 0) {
      this.evalRows.push(...evalRows);
      update.evalRows = evalRows;
    }
    this.reportColumnOverflow(update);
    return more;
  }

  /** Says once per column store that keys past the column limit are not charted. */
  private reportColumnOverflow(update: RunUpdate): void {
    const refused = this.columns.firstRefusedKey;
    if (refused === null || this.overflowReportedFor === this.columns) return;
    this.overflowReportedFor = this.columns;
    update.problems.push(
      `${this.metricsTail.path}: more than ${this.columns.maxColumns} numeric keys; ` +
        `"${refused}" and later new keys are not charted`,
    );
  }

  /** Small runs may put the games inside the eval row (`"eval/games": [...]`); treat them like eval-games.jsonl. */
  private takeInlineGames(row: MetricsRow, update: RunUpdate): void {
    const inline = row["eval/games"];
    if (!Array.isArray(inline)) return;
    delete row["eval/games"];
    const games: EvalGame[] = [];
    inline.forEach((g, i) => {
      const candidate = { step: row.step, ...(g as object) };
      const error = checkEvalGame(candidate);
      if (error) update.problems.push(`${this.metricsTail.path} step ${row.step} eval/games[${i}]: ${error}`);
      else games.push(candidate as EvalGame);
    });
    this.addGames(games, update);
  }

  private async pollSamples(update: RunUpdate, signal?: AbortSignal): Promise<boolean> {
    const rows: SampleRow[] = [];
    const more = await this.samplesTail.visit(
      {
        restart: () => {
          this.samples = [];
          rows.length = 0;
          update.reset = true;
        },
        problem: (p) => update.problems.push(describeJsonlProblem(p)),
        line: ({ where, value }) => {
          const error = checkSampleRow(value);
          if (error) update.problems.push(`${this.samplesTail.path} ${where}: ${error}`);
          else rows.push(value as SampleRow);
          if (rows.length > 2 * KEEP_SAMPLES) rows.splice(0, rows.length - KEEP_SAMPLES);
        },
      },
      signal,
    );
    if (rows.length === 0) return more;
    const newest = rows.slice(-KEEP_SAMPLES);
    this.samples.push(...newest);
    if (this.samples.length > KEEP_SAMPLES) this.samples.splice(0, this.samples.length - KEEP_SAMPLES);
    update.samples = newest;
    return more;
  }

  private async pollGames(update: RunUpdate, signal?: AbortSignal): Promise<boolean> {
    const games: EvalGame[] = [];
    const more = await this.gamesTail.visit(
      {
        restart: () => {
          this.games = [];
          games.length = 0;
          update.reset = true;
        },
        problem: (p) => update.problems.push(describeJsonlProblem(p)),
        line: ({ where, value }) => {
          const error = checkEvalGame(value);
          if (error) update.problems.push(`${this.gamesTail.path} ${where}: ${error}`);
          else games.push(value as EvalGame);
        },
      },
      signal,
    );
    this.addGames(games, update);
    return more;
  }

  private addGames(games: EvalGame[], update: RunUpdate): void {
    if (games.length === 0) return;
    this.games.push(...games);
    const steps = [...new Set(this.games.map((g) => g.step))].sort((a, b) => a - b);
    if (steps.length > KEEP_GAME_STEPS) {
      const oldestKept = steps[steps.length - KEEP_GAME_STEPS];
      this.games = this.games.filter((g) => g.step >= oldestKept);
    }
    update.games = [...(update.games ?? []), ...games];
  }
}
