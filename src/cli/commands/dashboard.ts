import { existsSync, readdirSync, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { DemoRun } from "../../dashboard/demo-run.js";
import { SIGNAL_EXIT_DEADLINE_MS } from "../../dashboard/limits.js";
import { startDashboard } from "../../dashboard/server.js";
import { exposureWarning } from "../../util/listen-host.js";
import { stopOnSignals } from "../../util/stop-on-signals.js";

/**
 * `wordle-grpo dashboard [RUN_DIR ...]`: a local web page that follows one or more runs live.
 * `--demo DIR` writes a synthetic run into DIR and keeps appending to it, to try the page
 * without training anything.
 */

interface DashboardFlags {
  host: string;
  port: string;
  demo?: string;
  demoInterval: string;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--port expects an integer from 0 to 65535, got "${text}"`);
  }
  return port;
}

function checkRunDir(dir: string): string | null {
  if (!existsSync(dir)) return `${dir} does not exist yet; waiting for the trainer to create it`;
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory (expected a run directory)`);
  return null;
}

/** Starts a demo run: 60 logged steps at once, then one more per `intervalMs`, like a fast trainer. */
async function startDemo(dir: string, intervalMs: number): Promise<() => void> {
  if (existsSync(dir) && readdirSync(dir).length > 0) {
    throw new Error(`--demo ${dir}: the folder is not empty; give a new or empty folder for the demo run`);
  }
  const demo = new DemoRun(dir, { runName: "demo", maxSteps: 2100, loggingSteps: 10, evalSteps: 100 });
  demo.writeConfig();
  await demo.appendSteps(60);
  let stopped = false;
  const keepAppending = async (): Promise<void> => {
    while (!stopped && demo.step < demo.options.maxSteps) {
      await sleep(intervalMs);
      if (!stopped) await demo.appendSteps(1);
    }
  };
  keepAppending().catch((err: Error) =>
    process.stderr.write(`dashboard: the demo run stopped: ${err.message}\n`),
  );
  return () => {
    stopped = true;
  };
}

export function register(program: Command): void {
  program
    .command("dashboard")
    .description(
      "Serve a local web page that follows training runs live (reward curves, criteria, milestones, games)",
    )
    .argument("[RUN_DIR...]", "run directories to follow and overlay (one colour each)")
    .option("--host <host>", "interface to bind; keep the default unless you know why", "127.0.0.1")
    .option("--port <port>", "port to listen on (0 picks a free one)", "8787")
    .option("--demo <dir>", "write a synthetic run into <dir>, keep appending to it, and show it")
    .option("--demo-interval <ms>", "milliseconds between demo steps", "1000")
    .action(async (runDirs: string[], flags: DashboardFlags) => {
      const port = parsePort(flags.port);
      const dirs = [...runDirs];
      let stopDemo = (): void => {};
      if (flags.demo) {
        const interval = Number(flags.demoInterval);
        if (!Number.isFinite(interval) || interval < 10) {
          throw new Error(`--demo-interval expects milliseconds >= 10, got "${flags.demoInterval}"`);
        }
        stopDemo = await startDemo(flags.demo, interval);
        dirs.push(flags.demo);
      }
      if (dirs.length === 0)
        throw new Error("dashboard: give at least one RUN_DIR (or --demo DIR to try it)");
      for (const dir of dirs) {
        const note = checkRunDir(dir);
        if (note) process.stderr.write(`dashboard: ${note}\n`);
      }
      const started = Date.now();
      const server = await startDashboard({ runDirs: dirs, host: flags.host, port });
      for (const run of server.runs) {
        process.stdout.write(
          `  ${run.info.label}: ${run.columns.rowCount.toLocaleString("en-US")} training rows (${run.dir})\n`,
        );
      }
      process.stdout.write(
        `dashboard: loaded in ${((Date.now() - started) / 1000).toFixed(1)} s; open ${server.url}\n`,
      );
      const warning = exposureWarning("dashboard", flags.host, "can read these runs");
      if (warning !== null) process.stderr.write(`${warning}\n`);
      // Ctrl-C or SIGTERM always ends it, within a few seconds at most (see stopOnSignals).
      stopOnSignals(
        "dashboard",
        () => {
          stopDemo();
          return server.close();
        },
        { deadlineMs: SIGNAL_EXIT_DEADLINE_MS },
      );
    });
}
