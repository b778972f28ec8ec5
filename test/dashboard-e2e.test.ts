import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { DemoRun, writeDemoRun } from "../src/dashboard/demo-run.js";
import { startDashboard } from "../src/dashboard/server.js";
import type { Criterion, EvalGame } from "../src/dashboard/shared/protocol.js";
import { isEvalRow } from "../src/dashboard/shared/protocol.js";
import { PACKAGE_ROOT } from "../src/paths.js";

/**
 * The dashboard in a real browser (Debian's headless Chromium driven by playwright-core), against
 * run directories that a helper keeps appending to. scripts/setup.sh installs Chromium; when it is
 * missing this test fails (it does not skip), because then the page is simply untested.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const ARTIFACTS = join(PACKAGE_ROOT, "test-artifacts");
/** Acceptance figures from the dashboard issue. */
const NEW_STEP_LIMIT_MS = 3000;
const FIRST_PAINT_LIMIT_MS = 2000;

function buildPage(into: string): void {
  // --no-check: the page's types are checked by `npm run build`; here only the bundle matters.
  execFileSync(
    process.execPath,
    [join(PACKAGE_ROOT, "scripts", "build-dashboard.mjs"), "--no-check", "--out", into],
    {
      stdio: "inherit",
    },
  );
}

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    assert.fail(
      `Chromium not found at ${CHROMIUM}. The dashboard's browser test needs it: run scripts/setup.sh ` +
        "(it runs `apt-get install chromium`), or set CHROMIUM_PATH to a Chromium binary.",
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Collects uncaught page errors so a broken script fails the test instead of showing a blank page. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  return errors;
}

/** Waits until run `run`'s chip shows a step of at least `step`. */
async function waitForStep(page: Page, run: number, step: number, timeout: number): Promise<void> {
  // A string expression: this file is compiled without the DOM library.
  const chip = `document.querySelector('.run-chip[data-run="${run}"]')`;
  await page.waitForFunction(`Number(${chip}?.getAttribute("data-step")) >= ${step}`, undefined, {
    timeout,
    polling: 50,
  });
}

function lastTrainingRow(dir: string): Record<string, unknown> {
  const rows = readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => !isEvalRow(r));
  return rows[rows.length - 1];
}

test("dashboard in headless Chromium", { timeout: 240_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), "dashboard-e2e-"));
  const assets = join(root, "page");
  buildPage(assets);
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await launch();
  try {
    await t.test("follows live runs: new steps, criteria met and unmet, boards, screenshot", async () => {
      // Run A is further along (all criteria met); run B learns more slowly and is still going.
      const dirA = join(root, "run-fast");
      const dirB = join(root, "run-slow");
      const a = new DemoRun(dirA, { runName: "fast", seed: 3, learningSpeed: 1.1, gamesPerEval: 10 });
      a.writeConfig();
      await a.appendSteps(190);
      const b = new DemoRun(dirB, { runName: "slow", seed: 4, learningSpeed: 0.8, gamesPerEval: 10 });
      b.writeConfig();
      await b.appendSteps(80);
      const server = await startDashboard({ runDirs: [dirA, dirB], port: 0, assetsDir: assets });
      // The helper that keeps appending: one logged step of run B every 400 ms.
      let onAppend: ((step: number, at: number) => void) | null = null;
      const helper = setInterval(async () => {
        await b.appendSteps(1);
        onAppend?.(b.step, Date.now());
      }, 400);
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors = watchErrors(page);
      try {
        await page.goto(server.url);
        await page.waitForSelector("body[data-first-paint-ms]", { timeout: 15_000 });

        // A new step shows within 3 s (three times, each timed from the moment it was written).
        const latencies: number[] = [];
        for (let i = 0; i < 3; i++) {
          const { step, at } = await new Promise<{ step: number; at: number }>((resolve) => {
            onAppend = (s, when) => {
              onAppend = null;
              resolve({ step: s, at: when });
            };
          });
          // "At least": the helper keeps appending, so the page may jump straight past `step`.
          await waitForStep(page, 1, step, NEW_STEP_LIMIT_MS + 2000);
          latencies.push(Date.now() - at);
          const chartStep = Number(await page.getAttribute("#chart-reward", "data-last-step"));
          assert.ok(chartStep >= step, `reward chart shows up to step ${chartStep}, expected ${step}`);
        }
        t.diagnostic(`new step on screen after ${latencies.join(", ")} ms`);
        for (const ms of latencies) assert.ok(ms < NEW_STEP_LIMIT_MS, `a new step took ${ms} ms to show`);

        // Stop appending, then compare the criteria panel with the newest rows on disk.
        clearInterval(helper);
        await waitForStep(page, 1, b.step, NEW_STEP_LIMIT_MS);
        assert.equal(await page.getAttribute('.run-chip[data-run="1"]', "data-step"), String(b.step));
        assert.match(
          (await page.textContent('.run-chip[data-run="1"] .run-step')) ?? "",
          new RegExp(`step ${b.step.toLocaleString("en-US")} / 2,100`),
        );
        const shown = await page.$$eval("#criteria .run-block", (blocks) =>
          blocks.map((block) =>
            [...block.querySelectorAll("tr.criterion")].map((row) => ({
              expr: row.querySelector(".expr")?.textContent,
              met: row.classList.contains("met"),
              unmet: row.classList.contains("unmet"),
            })),
          ),
        );
        const expected = [dirA, dirB].map((dir) =>
          (lastTrainingRow(dir).criteria as Criterion[]).map((c) => ({
            expr: c.expr,
            met: c.met,
            unmet: !c.met,
          })),
        );
        assert.deepEqual(shown, expected);
        const states = shown.flat();
        assert.ok(
          states.some((c) => c.met) && states.some((c) => c.unmet),
          "the criteria panel should show met and unmet",
        );
        assert.equal(await page.locator("#criteria .badge.met", { hasText: "all criteria met" }).count(), 1);

        // Milestones: pass/fail/pending markers from the newest row.
        assert.ok((await page.locator("#milestones .milestone.pass").count()) > 0);
        assert.ok((await page.locator("#milestones .milestone.pending").count()) > 0);

        // Boards of run A's newest evaluation, tile by tile against eval-games.jsonl.
        const games = readFileSync(join(dirA, "eval-games.jsonl"), "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l) as EvalGame);
        const newest = games.filter((g) => g.step === games[games.length - 1].step);
        await page.locator("#boards .board").first().waitFor();
        assert.equal(await page.locator("#boards .board").count(), newest.length);
        const firstBoard = page.locator("#boards .board").first();
        assert.equal(await firstBoard.locator(".secret").textContent(), newest[0].secret.toUpperCase());
        const firstRow = await firstBoard
          .locator(".board-row")
          .first()
          .locator(".tile")
          .evaluateAll((tiles) => tiles.map((el) => [el.textContent, el.className.replace("tile ", "")]));
        const guess = newest[0].guesses[0];
        const marks: Record<string, string> = { c: "correct", p: "present", a: "absent" };
        assert.deepEqual(
          firstRow,
          [...guess.word.toUpperCase()].map((letter, i) => [
            letter,
            guess.feedback ? marks[guess.feedback[i]] : "invalid",
          ]),
        );
        assert.ok((await page.locator("#boards .tile.correct").count()) > 0);

        // Every chart draws data once scrolled into view (charts off screen wait until they are seen).
        const chartIds = await page.$$eval(".chart", (charts) => charts.map((c) => c.id));
        for (const id of [
          "reward",
          "format-rate",
          "loss",
          "kl",
          "grad-norm",
          "entropy",
          "step-time",
          "eval-win-rate",
        ]) {
          assert.ok(chartIds.includes(`chart-${id}`), `no chart ${id}`);
        }
        for (const id of chartIds) {
          await page.locator(`#${id}`).scrollIntoViewIfNeeded();
          await page.waitForFunction(
            `Number(document.getElementById("${id}").dataset.points) > 0`,
            undefined,
            {
              timeout: 5000,
            },
          );
        }
        assert.ok((await page.locator("#samples tr.sample").count()) > 0);
        await page.evaluate("window.scrollTo(0, 0)");
        await page.screenshot({ path: join(ARTIFACTS, "dashboard-e2e.png"), fullPage: true });
        assert.deepEqual(errors, []);
      } finally {
        clearInterval(helper);
        await page.close();
        await server.close();
      }
    });

    await t.test("100,000 metric rows: data on screen in under 2 s", async () => {
      const dir = join(root, "long-run");
      await writeDemoRun(dir, {
        runName: "long",
        loggedSteps: 100_000,
        maxSteps: 1_000_000,
        loggingSteps: 10,
        evalSteps: 50_000,
        gamesPerEval: 8,
      });
      const loadStart = Date.now();
      const server = await startDashboard({ runDirs: [dir], port: 0, assetsDir: assets });
      const loadMs = Date.now() - loadStart;
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors = watchErrors(page);
      try {
        const start = Date.now();
        await page.goto(server.url);
        await page.waitForSelector("body[data-first-paint-ms]", { timeout: 30_000 });
        const wallMs = Date.now() - start;
        // First paint as browsers define it: from the page's navigation start (its performance
        // clock) to the total-reward chart drawn with the data. The test's own wall clock, which also
        // counts Playwright's round trips, is reported beside it.
        const firstPaintMs = Number(await page.getAttribute("body", "data-first-paint-ms"));
        const marks = await page.getAttribute("body", "data-load-marks");
        await waitForStep(page, 0, 1_000_000, 5_000);
        const points = Number(await page.getAttribute("#chart-reward", "data-points"));
        assert.equal(await page.getAttribute("#chart-reward", "data-decimated"), "true");
        assert.ok(points > 0 && points <= 2 * 1400, `reward chart draws ${points} points`);
        // Responsiveness: zoom by dragging across the chart, time the redraw that follows.
        const box = await page.locator("#chart-reward .u-over").boundingBox();
        assert.ok(box);
        await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
        await page.mouse.down();
        await page.mouse.move(box.x + box.width * 0.6, box.y + box.height / 2, { steps: 4 });
        await page.mouse.up();
        await page.waitForSelector("#zoom:not([hidden])", { timeout: 5_000 });
        await page.waitForFunction('document.getElementById("chart-reward").dataset.decimated === "true"');
        const zoomRedrawMs = await page.getAttribute("body", "data-last-render-ms");
        t.diagnostic(
          `100,000 rows: server read them in ${loadMs} ms before listening; first paint ${firstPaintMs} ms ` +
            `after navigation start (wall clock around page.goto: ${wallMs} ms; marks: ${marks}); ` +
            `redraw after a zoom: ${zoomRedrawMs} ms`,
        );
        assert.ok(firstPaintMs < FIRST_PAINT_LIMIT_MS, `first paint took ${firstPaintMs} ms`);
        await page.screenshot({ path: join(ARTIFACTS, "dashboard-100k.png") });
        assert.deepEqual(errors, []);
      } finally {
        await page.close();
        await server.close();
      }
    });
  } finally {
    await browser.close();
    rmSync(root, { recursive: true, force: true });
  }
});
