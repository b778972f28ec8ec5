// The npm package as a new user gets it: `npm pack`, install into an empty project, run the CLI
// without the libtorch addon. The registry may be unreachable, so the install is tried offline and,
// where that fails, the tarball is unpacked into node_modules with this checkout's dependencies
// linked beside it (what npm would have installed).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PACKAGE_ROOT } from "../src/paths.js";
import { withTempDir } from "./helpers/temp-dir.js";

const NPM = process.platform === "win32" ? "npm.cmd" : "npm";

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: 120_000,
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

test("the packed CLI runs solve and dashboard without the addon, and the engine commands say what is missing in one line", (t) => {
  if (!existsSync(join(PACKAGE_ROOT, "dist", "dashboard-web", "index.html"))) {
    t.skip("dist/dashboard-web is not built (npm run build)");
    return;
  }
  withTempDir("wordle-grpo-pack", (dir) => {
    const packed = run(NPM, ["pack", "--ignore-scripts", "--pack-destination", dir], PACKAGE_ROOT);
    if (packed.status !== 0) {
      t.skip(`npm pack failed: ${packed.stderr.trim().split("\n").at(-1)}`);
      return;
    }
    const tarball = join(dir, readdirSync(dir).find((f) => f.endsWith(".tgz")) ?? "");
    const project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      '{ "name": "user-project", "version": "1.0.0", "private": true }\n',
    );

    const installed = run(
      NPM,
      ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts", tarball],
      project,
    );
    const pkg = join(project, "node_modules", "wordle-grpo");
    if (installed.status !== 0) {
      // Offline without the registry's metadata: unpack it and link this checkout's dependencies.
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
    }
    assert.ok(!existsSync(join(pkg, "native", "build")), "the package must not carry a built addon");
    const bin = join(project, "node_modules", ".bin", "wordle-grpo");
    const cli = (...args: string[]) =>
      run(process.execPath, [bin, ...args], project, { WORDLE_GRPO_NO_ADDON: "1" });

    const help = cli("--help");
    assert.equal(help.status, 0, help.stderr);
    for (const name of ["solve", "plan", "dashboard", "train", "eval"])
      assert.match(help.stdout, new RegExp(`\\b${name}\\b`));

    const solveHelp = cli("solve", "--help");
    assert.equal(solveHelp.status, 0, solveHelp.stderr);
    assert.match(solveHelp.stdout, /--solver/);

    const solved = cli("solve", "--solver", "random-consistent", "--pool", "answers", "--json");
    assert.equal(solved.status, 0, solved.stderr);
    const report = JSON.parse(solved.stdout) as { games: number; wins: number };
    assert.equal(report.games, 2315);
    assert.ok(report.wins > 2000);

    const dashboardHelp = cli("dashboard", "--help");
    assert.equal(dashboardHelp.status, 0, dashboardHelp.stderr);

    const train = cli("train", "--config", "nothing.toml");
    assert.equal(train.status, 1);
    assert.equal(train.stdout, "");
    const lines = train.stderr.trim().split("\n");
    assert.equal(lines.length, 1, train.stderr);
    assert.match(lines[0], /^wordle-grpo train: the libtorch addon is not built/);
    assert.match(lines[0], /npm rebuild wordle-grpo/);
    assert.match(lines[0], /LIBTORCH=/);
    assert.match(lines[0], /apt-get install libtorch-dev/);
    assert.doesNotMatch(train.stderr, /\n\s+at /);

    // The install step outside a checkout: no libtorch to find, so it explains and does not fail.
    const install = run(process.execPath, [join(pkg, "scripts", "install-native.mjs")], pkg, {
      LIBTORCH: join(dir, "no-libtorch-here"),
    });
    assert.equal(install.status, 0, install.stderr);
    assert.match(install.stderr, /libtorch addon was not built/);
    assert.match(install.stderr, /LIBTORCH=\/path\/to\/libtorch npm rebuild wordle-grpo/);
    assert.match(install.stderr, /apt-get install -y libtorch-dev/);
    assert.ok(!existsSync(join(pkg, "native", "build", "Release", "wordle_torch.node")));
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
