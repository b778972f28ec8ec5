// The npm package as a new user gets it: `npm pack`, `npm install` of the tarball into an empty
// project (dependencies from the registry, the addon built by the package's install step), the CLI
// run from there, with and without a loadable addon. Where the registry is unreachable the tarball
// is unpacked into node_modules with this checkout's dependencies linked beside it instead.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type TestContext, test } from "node:test";
import { PACKAGE_ROOT } from "../src/paths.js";
import { withTempDir } from "./helpers/temp-dir.js";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeout = 120_000) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout,
  });
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "", error: r.error };
}

/** The tarball's file list (`npm pack --dry-run --json`, no prepack: dist/ is already built). */
function packedFiles(): string[] {
  const r = run(NPM, ["pack", "--dry-run", "--json", "--ignore-scripts"], PACKAGE_ROOT);
  assert.equal(r.status, 0, r.stderr);
  const [info] = JSON.parse(r.stdout) as { files: { path: string }[] }[];
  return info.files.map((f) => f.path);
}

test("the package carries what users need and no tests, benches or sources", (t) => {
  if (!existsSync(join(PACKAGE_ROOT, "dist", "dashboard-web", "index.html"))) {
    t.skip("dist/dashboard-web is not built (npm run build)");
    return;
  }
  const files = packedFiles();
  for (const needed of [
    "package.json",
    "README.md",
    "dist/src/cli/main.js",
    "dist/src/index.js",
    "dist/dashboard-web/index.html",
    "dist/dashboard-web/app.js",
    "native/binding.gyp",
    "native/find-libtorch.cjs",
    "scripts/install-native.mjs",
    "data/wordle-answers.txt",
    "data/wordle-grpo-seed.jsonl",
    "models/wordle-tiny/model.safetensors",
    "models/wordle-tiny-grpo/adapter_model.safetensors",
    "models/wordle-tiny-consistent/adapter_model.safetensors",
  ])
    assert.ok(files.includes(needed), `${needed} is missing from the package`);
  assert.ok(
    files.some((f) => f.startsWith("native/src/") && f.endsWith(".cc")),
    "the addon's C++ sources are missing",
  );
  const unwanted = files.filter((f) =>
    /^(test|bench|src|docs|\.scratch|test-artifacts|dist\/test|dist\/bench|native\/build|node_modules)\//.test(
      f,
    ),
  );
  assert.deepEqual(unwanted, []);
  assert.ok(files.length < 700, `${files.length} files`);
});

/** The tarball installed into an empty project: by npm from the registry, else unpacked by hand. */
function installPackage(
  t: TestContext,
  dir: string,
): { project: string; pkg: string; npmInstalled: boolean } {
  const packed = run(NPM, ["pack", "--ignore-scripts", "--pack-destination", dir], PACKAGE_ROOT);
  assert.equal(packed.status, 0, packed.stderr);
  const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith(".tgz")) ?? "");
  const project = join(dir, "project");
  mkdirSync(project);
  writeFileSync(
    join(project, "package.json"),
    '{ "name": "user-project", "version": "1.0.0", "private": true }\n',
  );
  const pkg = join(project, "node_modules", "wordle-grpo");
  // What a user runs: dependencies from the registry, and the package's install step (the addon build).
  const installed = run(
    NPM,
    ["install", "--no-audit", "--no-fund", "--fetch-retries=1", "--fetch-timeout=30000", tarball],
    project,
    {},
    900_000,
  );
  if (installed.status === 0) return { project, pkg, npmInstalled: true };

  // No registry here: unpack it and link this checkout's dependencies (what npm would have installed).
  t.diagnostic(`npm install failed, unpacked instead: ${installed.stderr.trim().split("\n").at(-1)}`);
  const modules = join(project, "node_modules");
  mkdirSync(modules, { recursive: true });
  const untar = run("tar", ["xzf", tarball, "-C", modules], project);
  assert.equal(untar.status, 0, untar.stderr);
  run("mv", [join(modules, "package"), pkg], project);
  for (const entry of readdirSync(join(PACKAGE_ROOT, "node_modules"))) {
    if (entry.startsWith(".") || entry === "wordle-grpo") continue;
    symlinkSync(join(PACKAGE_ROOT, "node_modules", entry), join(modules, entry));
  }
  mkdirSync(join(modules, ".bin"));
  symlinkSync(
    join("..", "wordle-grpo", "dist", "src", "cli", "main.js"),
    join(modules, ".bin", "wordle-grpo"),
  );
  return { project, pkg, npmInstalled: false };
}

test("the package from its tarball: npm install builds the addon, solve and play run; without a loadable addon solve and plan run and train says what is missing in one line", (t) => {
  if (!existsSync(join(PACKAGE_ROOT, "dist", "dashboard-web", "index.html"))) {
    t.skip("dist/dashboard-web is not built (npm run build)");
    return;
  }
  withTempDir("wordle-grpo-pack", (dir) => {
    const { project, pkg, npmInstalled } = installPackage(t, dir);
    const addon = join(pkg, "native", "build", "Release", "wordle_torch.node");
    const bin = join(project, "node_modules", ".bin", "wordle-grpo");
    const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
      run(process.execPath, [bin, ...args], project, env);

    // With the addon npm's install step built (libtorch is on this machine: the tests need it).
    if (npmInstalled) {
      assert.ok(existsSync(addon), "npm install did not build the addon");
      const solved = cli(["solve", "--solver", "entropy", "--opener", "salet", "--json"]);
      assert.equal(solved.status, 0, solved.stderr);
      const report = JSON.parse(solved.stdout) as { games: number; wins: number; meanGuesses: number };
      assert.deepEqual([report.games, report.wins], [2315, 2315]);
      assert.ok(Math.abs(report.meanGuesses - 3.4324) < 1e-3, String(report.meanGuesses));
      const played = cli(["play", "--secret", "crane"]);
      assert.equal(played.status, 0, played.stderr);
      assert.match(played.stdout, /<guess>[A-Z]{5}<\/guess>/);
      assert.match(played.stdout, /(won in \d turns?|lost.*CRANE)/);
    } else t.diagnostic("no registry: the addon build and play were not tried");

    // The addon missing, then present but unloadable (libtorch gone from under a built addon).
    const missing = { WORDLE_GRPO_NO_ADDON: "1" };
    const checks: Array<[NodeJS.ProcessEnv, RegExp]> = [[missing, /the libtorch addon is not built/]];
    if (!npmInstalled) mkdirSync(dirname(addon), { recursive: true });
    writeFileSync(addon, Buffer.alloc(4096, "x"));
    checks.push([{}, /cannot load the libtorch addon .*invalid ELF header/]);
    for (const [env, reason] of checks) {
      const help = cli(["--help"], env);
      assert.equal(help.status, 0, help.stderr);
      for (const name of ["solve", "plan", "dashboard", "train", "eval"])
        assert.match(help.stdout, new RegExp(`\\b${name}\\b`));
      assert.equal(cli(["dashboard", "--help"], env).status, 0);

      const solved = cli(["solve", "--solver", "random-consistent", "--pool", "answers", "--json"], env);
      assert.equal(solved.status, 0, solved.stderr);
      assert.equal((JSON.parse(solved.stdout) as { games: number }).games, 2315);

      const planned = cli(["plan", "--preset", "tiny", "--json"], env);
      assert.equal(planned.status, 0, planned.stderr);
      const plan = JSON.parse(planned.stdout) as {
        total_steps: number;
        memory: { total: number };
        warnings: string[];
      };
      assert.equal(plan.total_steps, 900);
      assert.ok(plan.memory.total > 0);
      assert.ok(
        plan.warnings.some((w) =>
          /libtorch addon is not built: the memory estimate assumes cpu, float32/.test(w),
        ),
      );

      const train = cli(["train", "--config", "nothing.toml"], env);
      assert.equal(train.status, 1);
      assert.equal(train.stdout, "");
      const lines = train.stderr.trim().split("\n");
      assert.equal(lines.length, 1, train.stderr);
      assert.match(lines[0]!, /^wordle-grpo train: /);
      assert.match(lines[0]!, reason);
      assert.match(lines[0]!, /npm rebuild wordle-grpo/);
      assert.match(lines[0]!, /LIBTORCH=/);
      assert.match(lines[0]!, /apt-get install libtorch-dev/);
    }

    // The install step outside a checkout: no libtorch to find, so it explains and does not fail.
    const install = run(process.execPath, [join(pkg, "scripts", "install-native.mjs")], pkg, {
      LIBTORCH: join(dir, "no-libtorch-here"),
      npm_command: "rebuild",
    });
    assert.equal(install.status, 0, install.stderr);
    assert.match(install.stderr, /libtorch addon was not built/);
    assert.match(install.stderr, /LIBTORCH=\/path\/to\/libtorch npm rebuild wordle-grpo/);
    assert.match(install.stderr, /apt-get install -y libtorch-dev/);
  });
});

test("the install step skips in a source checkout (setup.sh builds the addon there)", (t) => {
  if (!existsSync(join(PACKAGE_ROOT, ".git"))) {
    t.skip("not a git checkout");
    return;
  }
  const r = run(process.execPath, [join(PACKAGE_ROOT, "scripts", "install-native.mjs")], PACKAGE_ROOT, {
    LIBTORCH: "/no-libtorch-here",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout + r.stderr, "");
});
