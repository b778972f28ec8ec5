#!/usr/bin/env node
// Bundles the dashboard page (src/dashboard/web/) with esbuild into dist/dashboard-web/
// (or --out DIR):
// index.html, app.js (uPlot included) and app.css. The page is served from there at run time,
// so no CDN or network is needed. Type-checks the page first (the main tsc build excludes it,
// because it needs the DOM library).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const web = join(root, "src", "dashboard", "web");
// `--out DIR` builds elsewhere (the browser test bundles into a temp folder).
const outAt = process.argv.indexOf("--out");
const out = outAt > 0 ? process.argv[outAt + 1] : join(root, "dist", "dashboard-web");

if (!process.argv.includes("--no-check")) {
  execFileSync(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", join(web, "tsconfig.json")], {
    stdio: "inherit",
  });
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(web, "app.ts") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outdir: out,
  logLevel: "warning",
  legalComments: "linked",
});
copyFileSync(join(web, "index.html"), join(out, "index.html"));
