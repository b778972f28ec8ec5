#!/usr/bin/env node
// Finds libtorch for binding.gyp. Called as `node find-libtorch.cjs <what>` where <what> is one of
// include | libdirs | libs | ldflags | defines | cflags | describe, and prints a space-separated list.
//
// Search order (first hit wins):
//   1. $LIBTORCH           a libtorch directory (include/, lib/), e.g. the zip from pytorch.org
//   2. python3 torch       `python3 -c "import torch; print(torch.__path__[0])"` (pip/conda PyTorch 2.x)
//   3. the system          Debian/Ubuntu `libtorch-dev` (/usr/include/torch, /usr/lib/<triplet>/libtorch*.so)
//
// Everything the build needs is derived from the chosen root, so the C++ sources stay free of paths.
"use strict";
const { existsSync, readdirSync, readFileSync } = require("node:fs");
const { join } = require("node:path");
const { execFileSync } = require("node:child_process");

const HOW_TO_FIX = [
  "libtorch was not found. Provide it in one of these three ways:",
  "  1. LIBTORCH=/path/to/libtorch npm run build:native   (a directory with include/ and lib/, e.g. unzipped from pytorch.org)",
  "  2. pip install torch   (the build then uses python3's torch: python3 -c 'import torch; print(torch.__path__[0])')",
  "  3. apt-get install -y libtorch-dev   (Debian 12 / Ubuntu: headers in /usr/include/torch, libraries in /usr/lib/<triplet>)",
].join("\n");

function libraryIn(dir, name) {
  return ["so", "dylib"].some((ext) => existsSync(join(dir, `lib${name}.${ext}`))) || existsSync(join(dir, `${name}.lib`));
}

/** A root layout: include dirs, one lib dir, and where the version header lives. */
function fromPrefix(source, includeRoot, libDir) {
  const apiInclude = join(includeRoot, "torch", "csrc", "api", "include");
  if (!existsSync(join(apiInclude, "torch", "torch.h"))) return null;
  if (!libraryIn(libDir, "torch_cpu") || !libraryIn(libDir, "c10")) return null;
  return { source, includeDirs: [includeRoot, apiInclude], libDir };
}

function fromLibtorchEnv() {
  const root = process.env.LIBTORCH;
  if (!root) return null;
  const found = fromPrefix(`LIBTORCH=${root}`, join(root, "include"), join(root, "lib"));
  if (!found) {
    throw new Error(`LIBTORCH=${root} is set but ${root}/include/torch/csrc/api/include/torch/torch.h or ${root}/lib/libtorch_cpu.* is missing.\n${HOW_TO_FIX}`);
  }
  return found;
}

function fromPythonTorch() {
  let torchDir;
  try {
    torchDir = execFileSync("python3", ["-c", "import torch; print(torch.__path__[0])"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 60_000,
    }).trim();
  } catch {
    return null;
  }
  return torchDir ? fromPrefix(`python3 torch (${torchDir})`, join(torchDir, "include"), join(torchDir, "lib")) : null;
}

function fromSystem() {
  const includeRoot = ["/usr/include", "/usr/local/include"].find((d) => existsSync(join(d, "torch", "csrc", "api", "include", "torch", "torch.h")));
  if (!includeRoot) return null;
  const candidates = ["/usr/lib", "/usr/local/lib", "/usr/lib64"];
  for (const base of ["/usr/lib"]) {
    if (!existsSync(base)) continue;
    for (const entry of readdirSync(base)) if (/-linux-gnu/.test(entry)) candidates.unshift(join(base, entry));
  }
  for (const libDir of candidates) {
    const found = fromPrefix("system libtorch-dev", includeRoot, libDir);
    if (found) return found;
  }
  return null;
}

/** The C++ ABI flag must match the one libtorch was built with (pip wheels differ by version). */
function cxx11AbiDefine(found) {
  const cmake = join(found.libDir, "..", "share", "cmake", "Torch", "TorchConfig.cmake");
  if (existsSync(cmake)) {
    const m = /_GLIBCXX_USE_CXX11_ABI=([01])/.exec(readFileSync(cmake, "utf8"));
    if (m) return `_GLIBCXX_USE_CXX11_ABI=${m[1]}`;
  }
  if (found.source.startsWith("python3")) {
    try {
      const abi = execFileSync("python3", ["-c", "import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
      if (abi === "0" || abi === "1") return `_GLIBCXX_USE_CXX11_ABI=${abi}`;
    } catch {
      // fall through: the compiler default (new ABI) matches distribution builds
    }
  }
  return null;
}

/** TORCH_VERSION_MAJOR/MINOR from torch/version.h, e.g. { major: 1, minor: 13 }. */
function torchVersion(found) {
  // Debian keeps it under torch/csrc/api/include, pip wheels directly under include/.
  const header = found.includeDirs.map((d) => join(d, "torch", "version.h")).find((h) => existsSync(h));
  if (!header) return null;
  const text = readFileSync(header, "utf8");
  const major = /#define TORCH_VERSION_MAJOR (\d+)/.exec(text);
  const minor = /#define TORCH_VERSION_MINOR (\d+)/.exec(text);
  return major && minor ? { major: Number(major[1]), minor: Number(minor[1]) } : null;
}

/** PyTorch's headers need C++17 up to 2.11 and C++20 from 2.12 on (ATen refuses older standards). */
function cxxStandard(version) {
  if (version && (version.major > 2 || (version.major === 2 && version.minor >= 12))) return "c++20";
  return "c++17";
}

/**
 * The CUDA runtime headers (cuda_runtime_api.h): c10/cuda/*.h include them, and libtorch does not
 * ship them. Looked for in $CUDA_HOME/$CUDA_PATH, next to nvcc, /usr/local/cuda, and in the pip
 * `nvidia-*` packages that sit beside python3's torch (site-packages/nvidia/<pkg>/include).
 */
function cudaIncludeDir(found) {
  const candidates = [process.env.CUDA_HOME, process.env.CUDA_PATH].filter(Boolean).map((d) => join(d, "include"));
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir && existsSync(join(dir, "nvcc"))) candidates.push(join(dir, "..", "include"));
  }
  candidates.push("/usr/local/cuda/include");
  const pipNvidia = join(found.libDir, "..", "..", "nvidia");
  if (existsSync(pipNvidia)) {
    for (const pkg of readdirSync(pipNvidia)) candidates.push(join(pipNvidia, pkg, "include"));
  }
  return candidates.find((d) => existsSync(join(d, "cuda_runtime_api.h"))) ?? null;
}

/** Folders where the system keeps shared libraries (Debian puts gloo in /usr/lib, not the triplet). */
function systemLibDirs() {
  const dirs = [];
  if (existsSync("/usr/lib")) {
    for (const entry of readdirSync("/usr/lib")) if (/-linux-gnu/.test(entry)) dirs.push(join("/usr/lib", entry));
  }
  return [...dirs, "/usr/lib", "/usr/local/lib", "/usr/lib64"];
}

function c10dHeader(found, name) {
  return found.includeDirs.some((d) => existsSync(join(d, "torch", "csrc", "distributed", "c10d", name)));
}

/**
 * torch.distributed's gloo backend (CPU collectives). libtorch ships ProcessGroupGloo.hpp but
 * compiles it only under USE_C10D_GLOO, and the header includes gloo's own headers, which
 * Debian's libtorch-dev does not carry (apt-get install libgloo-dev does). The ProcessGroupGloo
 * code itself lives in libtorch_cpu; -lgloo is added where a shared libgloo exists (Debian) for
 * the gloo symbols the header's inline code may reference; pip wheels link gloo in statically.
 */
function glooSupport(found) {
  if (!c10dHeader(found, "ProcessGroupGloo.hpp")) return null;
  const includeDir = [...found.includeDirs, "/usr/include", "/usr/local/include"].find((d) =>
    existsSync(join(d, "gloo", "algorithm.h")),
  );
  if (!includeDir) return null;
  const libDir = [found.libDir, ...systemLibDirs()].find((d) => libraryIn(d, "gloo")) ?? null;
  return { includeDir, libDir };
}

/** Where nccl.h is: $NCCL_HOME, the CUDA include dir, pip's nvidia-nccl package, the system. */
function ncclIncludeDir(found) {
  const candidates = [...found.includeDirs];
  for (const root of [process.env.NCCL_HOME, process.env.NCCL_ROOT, process.env.CUDA_HOME, process.env.CUDA_PATH]) {
    if (root) candidates.push(join(root, "include"));
  }
  candidates.push(join(found.libDir, "..", "..", "nvidia", "nccl", "include"), "/usr/include", "/usr/local/include", "/usr/local/cuda/include");
  return candidates.find((d) => existsSync(join(d, "nccl.h"))) ?? null;
}

/** Whether python3's torch was built with NCCL; null when the answer cannot be had. */
function pythonTorchHasNccl() {
  try {
    const out = execFileSync("python3", ["-c", "import torch.distributed as d; print(int(d.is_available() and d.is_nccl_available()))"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 60_000,
    }).trim();
    return out === "1" ? true : out === "0" ? false : null;
  } catch {
    return null;
  }
}

/**
 * torch.distributed's nccl backend (GPU collectives): only for a CUDA libtorch whose
 * ProcessGroupNCCL.hpp is installed, with nccl.h findable (the header includes it) and, for
 * python3's torch, torch.distributed.is_nccl_available(). ProcessGroupNCCL lives in libtorch_cuda.
 */
function ncclSupport(found) {
  if (!found.hasCuda || !c10dHeader(found, "ProcessGroupNCCL.hpp")) return null;
  const includeDir = ncclIncludeDir(found);
  if (!includeDir) return null;
  if (found.source.startsWith("python3") && pythonTorchHasNccl() === false) return null;
  return { includeDir };
}

function discover() {
  const found = fromLibtorchEnv() ?? fromPythonTorch() ?? fromSystem();
  if (!found) throw new Error(HOW_TO_FIX);
  const hasCuda = libraryIn(found.libDir, "torch_cuda") && libraryIn(found.libDir, "c10_cuda");
  if (hasCuda) {
    const cudaInclude = cudaIncludeDir(found);
    if (cudaInclude) found.includeDirs.push(cudaInclude);
  }
  found.hasCuda = hasCuda;
  const gloo = glooSupport(found);
  const nccl = ncclSupport(found);
  for (const extra of [gloo, nccl]) {
    if (extra && !found.includeDirs.includes(extra.includeDir)) found.includeDirs.push(extra.includeDir);
  }
  const libs = ["torch", "torch_cpu", "c10", ...(hasCuda ? ["torch_cuda", "c10_cuda"] : []), ...(gloo?.libDir ? ["gloo"] : [])];
  // The linker and the loader search /usr/lib and /usr/local/lib anyway (Debian's libgloo is there).
  const searchedAnyway = ["/usr/lib", "/usr/local/lib", "/usr/lib64", found.libDir];
  const libDirs = [found.libDir, ...(gloo?.libDir && !searchedAnyway.includes(gloo.libDir) ? [gloo.libDir] : [])];
  const defines = [
    "NAPI_CPP_EXCEPTIONS",
    "NAPI_VERSION=8",
    ...(hasCuda ? ["WORDLE_WITH_CUDA=1"] : []),
    ...(gloo ? ["USE_C10D_GLOO"] : []),
    ...(nccl ? ["USE_C10D_NCCL"] : []),
  ];
  const abi = cxx11AbiDefine(found);
  if (abi) defines.push(abi);
  const version = torchVersion(found);
  return { ...found, hasCuda, gloo: gloo !== null, nccl: nccl !== null, libs, libDirs, defines, version, standard: cxxStandard(version) };
}

function main() {
  const what = process.argv[2] ?? "describe";
  let found;
  try {
    found = discover();
  } catch (err) {
    process.stderr.write(`\nfind-libtorch: ${err.message}\n\n`);
    process.exit(1);
  }
  const isMac = process.platform === "darwin";
  const out = {
    include: found.includeDirs,
    libdirs: found.libDirs,
    // --no-as-needed keeps libtorch_cuda linked although no symbol of it is referenced directly:
    // its static initialisers register the CUDA kernels with the dispatcher.
    libs: isMac
      ? found.libs.map((l) => `-l${l}`)
      : ["-Wl,--no-as-needed", ...found.libs.map((l) => `-l${l}`), "-Wl,--as-needed"],
    ldflags: found.libDirs.flatMap((dir) => [`-L${dir}`, `-Wl,-rpath,${dir}`]),
    defines: found.defines,
    // at::parallel_for (ATen/ParallelOpenMP.h) is a header template: without -fopenmp the file that
    // includes it runs its loop on one thread. Compile-only: the GOMP_* calls resolve at load time
    // to the OpenMP runtime libtorch itself loads (Debian's libgomp, or the copy a pip wheel
    // bundles), so there is one thread pool and at::set_num_threads governs it.
    cflags: [`-std=${found.standard}`, ...(process.platform === "linux" ? ["-fopenmp"] : [])],
    describe: [
      `libtorch ${found.version ? `${found.version.major}.${found.version.minor}` : "(unknown version)"} from ${found.source}: ` +
        `include ${found.includeDirs.join(", ")}; lib ${found.libDirs.join(", ")}; cuda ${found.hasCuda}; ` +
        `c10d gloo ${found.gloo}, nccl ${found.nccl}; ${found.standard}`,
    ],
  }[what];
  if (!out) {
    process.stderr.write(`find-libtorch: unknown query "${what}" (include|libdirs|libs|ldflags|defines|cflags|describe)\n`);
    process.exit(2);
  }
  process.stdout.write(`${out.join(" ")}\n`);
}

main();
