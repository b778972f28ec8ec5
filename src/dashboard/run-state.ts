import { readFile, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { JsonlTail } from "./jsonl-tail.js";
import { MetricColumns } from "./metric-columns.js";
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
    this.samplesTail = new JsonlTail(join(dir, "samples.jsonl"), 512 * 1024);
    this.gamesTail = new JsonlTail(join(dir, "eval-games.jsonl"), 4 * 1024 * 1024);
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

  async poll(): Promise<RunUpdate> {
    const update: RunUpdate = { reset: false, problems: [] };
    await this.pollConfig(update);
    await this.pollMetrics(update);
    await this.pollSamples(update);
    await this.pollGames(update);
    for (const p of update.problems) this.problems.push(p);
    if (this.problems.length > KEEP_PROBLEMS) this.problems.splice(0, this.problems.length - KEEP_PROBLEMS);
    return update;
  }

  private async pollConfig(update: RunUpdate): Promise<void> {
    const path = join(this.dir, "config.json");
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(path)).mtimeMs;
    } catch {
      return;
    }
    if (mtimeMs === this.configMtimeMs) return;
    this.configMtimeMs = mtimeMs;
    try {
      const parsed: unknown = JSON.parse(await readFile(path, "utf8"));
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        throw new Error("expected a JSON object");
      }
      this.config = parsed as Record<string, unknown>;
      update.config = this.config;
    } catch (err) {
      // The trainer writes config.json atomically, so a parse error is a real problem; retry on next change.
      update.problems.push(`${path}: ${(err as Error).message}`);
    }
  }

  private async pollMetrics(update: RunUpdate): Promise<void> {
    let start = this.columns.rowCount;
    let trainRows: MetricsRow[] = [];
    const evalRows: MetricsRow[] = [];
    await this.metricsTail.visit({
      restart: () => {
        this.columns = new MetricColumns();
        this.latest = null;
        this.evalRows = [];
        update.reset = true;
        start = 0;
        trainRows = [];
        evalRows.length = 0;
      },
      problem: (p) => update.problems.push(`${p.file} ${p.where}: ${p.message}`),
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
    });
    const added = this.columns.rowCount - start;
    if (added > MAX_ROWS_PER_UPDATE) update.reset = true;
    else if (added > 0) update.metrics = { start, rows: trainRows };
    if (evalRows.length > 0) {
      this.evalRows.push(...evalRows);
      update.evalRows = evalRows;
    }
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

  private async pollSamples(update: RunUpdate): Promise<void> {
    const rows: SampleRow[] = [];
    await this.samplesTail.visit({
      restart: () => {
        this.samples = [];
        rows.length = 0;
        update.reset = true;
      },
      problem: (p) => update.problems.push(`${p.file} ${p.where}: ${p.message}`),
      line: ({ where, value }) => {
        const error = checkSampleRow(value);
        if (error) update.problems.push(`${this.samplesTail.path} ${where}: ${error}`);
        else rows.push(value as SampleRow);
        if (rows.length > 2 * KEEP_SAMPLES) rows.splice(0, rows.length - KEEP_SAMPLES);
      },
    });
    if (rows.length === 0) return;
    const newest = rows.slice(-KEEP_SAMPLES);
    this.samples.push(...newest);
    if (this.samples.length > KEEP_SAMPLES) this.samples.splice(0, this.samples.length - KEEP_SAMPLES);
    update.samples = newest;
  }

  private async pollGames(update: RunUpdate): Promise<void> {
    const games: EvalGame[] = [];
    await this.gamesTail.visit({
      restart: () => {
        this.games = [];
        games.length = 0;
        update.reset = true;
      },
      problem: (p) => update.problems.push(`${p.file} ${p.where}: ${p.message}`),
      line: ({ where, value }) => {
        const error = checkEvalGame(value);
        if (error) update.problems.push(`${this.gamesTail.path} ${where}: ${error}`);
        else games.push(value as EvalGame);
      },
    });
    this.addGames(games, update);
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
