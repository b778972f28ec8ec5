// torch.distributed through the addon (src/engine/distributed.ts): real process groups of two node
// processes (test/helpers/distributed-worker.ts) over 127.0.0.1 with gloo, a world of one in this
// process, torchrun's environment contract, and what a rank sees when another one dies or hangs.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import {
  DistributedError,
  distributedBackends,
  distributedEnv,
  ProcessGroup,
  scope,
  tensor,
} from "../src/engine/index.js";

const WORKER = fileURLToPath(new URL("./helpers/distributed-worker.js", import.meta.url));
/** Generous: two processes load libtorch and connect on a busy 2-core machine. */
const START_MS = 90_000;

interface WorkerEvent {
  event: string;
  rank: number;
  [field: string]: unknown;
}

interface RankProcess {
  child: ChildProcess;
  /** The next event of this kind (earlier ones included), or a rejection after `ms`. */
  event(kind: string, ms: number): Promise<WorkerEvent>;
  /** Resolves with the exit code and signal, or rejects after `ms`. */
  exited(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function spawnRank(config: Record<string, unknown>): RankProcess {
  const child = spawn(process.execPath, [WORKER, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const events: WorkerEvent[] = [];
  const listeners = new Set<() => void>();
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    let newline = stdout.indexOf("\n");
    while (newline >= 0) {
      const line = stdout.slice(0, newline).trim();
      stdout = stdout.slice(newline + 1);
      if (line.startsWith("{")) events.push(JSON.parse(line) as WorkerEvent);
      newline = stdout.indexOf("\n");
    }
    for (const listener of listeners) listener();
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    event(kind, ms) {
      const found = new Promise<WorkerEvent>((resolve, reject) => {
        const look = () => {
          const hit = events.find((e) => e.event === kind);
          if (hit) {
            listeners.delete(look);
            resolve(hit);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            listeners.delete(look);
            reject(new Error(`rank ${config.rank} exited before "${kind}"; stderr:\n${stderr}`));
          }
        };
        listeners.add(look);
        child.on("exit", () => setImmediate(look));
        look();
      });
      return withTimeout(found, ms, `rank ${config.rank} waiting for "${kind}" (stderr: ${stderr})`);
    },
    exited: (ms) => withTimeout(exit, ms, `rank ${config.rank} exiting`),
    stderr: () => stderr,
  };
}

function killAll(ranks: readonly RankProcess[]): void {
  for (const r of ranks)
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
}

/** A port nothing listens on right now: bind port 0, read what the system gave, let it go. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const f32 = Math.fround;
/** Without gloo the first test fails, saying why; the ones that need a group skip. */
const needsGloo = distributedBackends().gloo ? {} : { skip: "this addon was built without gloo" };

test("this build has the gloo backend (scripts/setup.sh installs libgloo-dev, then npm run build:native)", () => {
  assert.equal(distributedBackends().gloo, true);
});

test("two ranks: all-reduce, flat all-reduce, broadcast, all-gather, barrier, store", {
  ...needsGloo,
  timeout: 180_000,
}, async () => {
  const port = await freePort();
  const ranks = [0, 1].map((rank) =>
    spawnRank({ scenario: "collectives", rank, worldSize: 2, port, timeoutSeconds: 60 }),
  );
  try {
    const results = (await Promise.all(ranks.map((r) => r.event("results", START_MS)))).map(
      (e) => e.results as Record<string, unknown>,
    );
    for (const r of ranks) assert.deepEqual(await r.exited(30_000), { code: 0, signal: null }, r.stderr());
    const [first, second] = results as [Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual(first.properties, [0, 2, 0, "gloo"]);
    assert.deepEqual(second.properties, [1, 2, 1, "gloo"]);

    // Each rank's input: [1.5 + r, -2 (r + 1), 0.1 (r + 1), 1e6 (1 - r)].
    const input = (r: number, round: (x: number) => number) =>
      [1.5 + r, -2 * (r + 1), 0.1 * (r + 1), 1e6 * (1 - r)].map(round);
    for (const [dtype, round] of [
      ["float32", f32],
      ["float64", (x: number) => x],
    ] as const) {
      const [a, b] = [input(0, round), input(1, round)];
      const expected = {
        sum: a.map((x, i) => round(x + (b[i] as number))),
        max: a.map((x, i) => Math.max(x, b[i] as number)),
        min: a.map((x, i) => Math.min(x, b[i] as number)),
      };
      for (const op of ["sum", "max", "min"] as const) {
        for (const res of results)
          assert.deepEqual(res[`allReduce ${op} ${dtype}`], expected[op], `${op} ${dtype}`);
      }
    }
    assert.deepEqual(first["allReduce sum float64"], [4, -6, 0.1 + 0.2, 1e6]);
    for (const res of results) {
      assert.deepEqual(res["allReduce sum bfloat16"], ["bfloat16", 4, 3]);
      assert.deepEqual(res["allReduce transposed view"], [
        [3, 6, 9],
        [12, 15, 18],
      ]);
      // The bucket equals one all-reduce per tensor, shapes kept, and the known sums.
      assert.deepEqual(res.allReduceFlat, res["allReduce per tensor"]);
      const shapes = [[2, 3], [4], [1, 1, 2], []];
      assert.deepEqual(
        res.allReduceFlat,
        shapes.map((shape, i) => ({
          shape,
          values: Array.from(
            { length: shape.reduce((x, y) => x * y, 1) },
            (_, k) => 2 * (k + 1) * (i + 1) + 0.25,
          ),
        })),
      );
      assert.deepEqual(res["broadcast from 1"], [10, 11, 12]);
      assert.deepEqual(res.allGather, [
        { shape: [1, 2], values: [0, 0.5] },
        { shape: [1, 2], values: [1, 1.5] },
      ]);
      assert.deepEqual(res.allGatherNumbers, [[1, 2.5, -1e300, 0.1], []]);
      assert.deepEqual(res["allGatherNumbers all empty"], [[], []]);
      assert.deepEqual(res.allGatherJson, [
        { rank: 0, text: 'é ☃ "quoted"', list: [0] },
        { rank: 1, text: 'é ☃ "quoted"', list: [1, 1] },
      ]);
      assert.match(String(res["after destroy"]), /barrier: the process group \(rank \d of 2\) was destroyed/);
    }
    assert.equal(first["after barrier"], "set by rank 1");
  } finally {
    killAll(ranks);
  }
});

test("a world of one rank: every collective is the identity", { ...needsGloo, timeout: 60_000 }, async () => {
  const port = await freePort();
  const env = { WORLD_SIZE: "1", RANK: "0", MASTER_ADDR: "127.0.0.1", MASTER_PORT: String(port) };
  const group = ProcessGroup.fromEnv(env, { timeoutSeconds: 30 });
  assert.ok(group);
  try {
    assert.deepEqual([group.rank, group.worldSize, group.localRank, group.backend], [0, 1, 0, "gloo"]);
    scope(() => {
      for (const op of ["sum", "max", "min"] as const) {
        const t = tensor([1.25, -3, 7], { dtype: "float64" });
        group.allReduce(t, op);
        assert.deepEqual(t.toArray(), [1.25, -3, 7]);
      }
      const parts = [tensor([[1, 2]]), tensor([3, 4, 5])];
      group.allReduceFlat(parts);
      assert.deepEqual(
        parts.map((t) => t.tolist()),
        [[[1, 2]], [3, 4, 5]],
      );
      const b = tensor([9, 8]);
      group.broadcast(b, 0);
      assert.deepEqual(b.toArray(), [9, 8]);
      const gathered = group.allGather(tensor([[1, 2]]));
      assert.deepEqual(
        gathered.map((t) => t.tolist()),
        [[[1, 2]]],
      );
    });
    assert.deepEqual(group.allGatherNumbers([0.5, 2]), [[0.5, 2]]);
    assert.deepEqual(group.allGatherJson({ a: [1, "x"] }), [{ a: [1, "x"] }]);
    group.barrier();
    group.storeSet("k", "v");
    assert.equal(group.storeGet("k"), "v");
    assert.throws(() => group.broadcast(tensor([1]), 1), /broadcast root must be an integer from 0 to 0/);
    assert.throws(() => group.allReduce(tensor([1]), "avg" as "sum"), /unknown reduce op "avg"/);
    assert.throws(
      () => group.allReduce(tensor([true, false])),
      (err: Error) =>
        !(err instanceof DistributedError) && /gloo has no kernels for bool tensors/.test(err.message),
    );
  } finally {
    group.destroy();
  }
  group.destroy();
  assert.equal(group.isDestroyed, true);
  assert.throws(
    () => group.allReduce(tensor([1])),
    /allReduce: the process group \(rank 0 of 1\) was destroyed/,
  );
  assert.throws(() => group.allGatherJson(1), /was destroyed/);
});

test("fromEnv reads torchrun's variables and names the bad one", () => {
  assert.equal(distributedEnv({}), null);
  assert.equal(ProcessGroup.fromEnv({ RANK: "0" }), null);
  const full = { WORLD_SIZE: "4", RANK: "3", LOCAL_RANK: "1", MASTER_ADDR: "10.0.0.7", MASTER_PORT: "29500" };
  assert.deepEqual(distributedEnv(full), {
    rank: 3,
    worldSize: 4,
    localRank: 1,
    masterAddr: "10.0.0.7",
    masterPort: 29500,
  });
  assert.equal(distributedEnv({ ...full, LOCAL_RANK: undefined })?.localRank, 3);
  const bad: [Record<string, string | undefined>, RegExp][] = [
    [{ RANK: "4" }, /RANK=4 is not below WORLD_SIZE=4 \(ranks are 0 to 3\)/],
    [{ WORLD_SIZE: "0" }, /WORLD_SIZE="0" is not an integer from 1/],
    [{ WORLD_SIZE: "two" }, /WORLD_SIZE="two" is not an integer/],
    [{ WORLD_SIZE: "2.5" }, /WORLD_SIZE="2.5" is not an integer/],
    [{ RANK: "-1" }, /RANK="-1" is not an integer from 0/],
    [{ RANK: undefined }, /WORLD_SIZE is set but RANK is not/],
    [{ MASTER_ADDR: undefined }, /WORLD_SIZE is set but MASTER_ADDR is not/],
    [{ MASTER_PORT: "70000" }, /MASTER_PORT="70000" is not an integer from 1 to 65535/],
    [{ MASTER_PORT: "" }, /WORLD_SIZE is set but MASTER_PORT is not/],
    [{ LOCAL_RANK: "3", RANK: "2" }, /LOCAL_RANK=3 is above RANK=2/],
    [{ LOCAL_WORLD_SIZE: "1" }, /LOCAL_RANK=1 is not below LOCAL_WORLD_SIZE=1/],
    [{ LOCAL_WORLD_SIZE: "8" }, /LOCAL_WORLD_SIZE="8" is not an integer from 1 to 4/],
  ];
  for (const [change, message] of bad) {
    assert.throws(() => distributedEnv({ ...full, ...change }), message, JSON.stringify(change));
    assert.throws(() => ProcessGroup.fromEnv({ ...full, ...change }), message);
  }
});

test("create() refuses impossible settings before it waits for anyone", () => {
  const base = { rank: 0, worldSize: 2, masterAddr: "127.0.0.1", masterPort: 29500 };
  assert.throws(
    () => ProcessGroup.create({ ...base, rank: 2 }),
    /rank must be an integer from 0 to 1, got 2/,
  );
  assert.throws(
    () => ProcessGroup.create({ ...base, timeoutSeconds: 0 }),
    /timeoutSeconds must be a positive number/,
  );
  assert.throws(
    () => ProcessGroup.create({ ...base, masterPort: 0 }),
    /masterPort must be an integer from 1 to 65535/,
  );
  assert.throws(
    () => ProcessGroup.create({ ...base, backend: "gloo", device: "cuda:0" }),
    /gloo works on the CPU/,
  );
  assert.throws(() => ProcessGroup.create({ ...base, backend: "nccl", device: "cpu" }), /nccl/);
  if (!distributedBackends().nccl) {
    assert.throws(
      () => ProcessGroup.create({ ...base, backend: "nccl" }),
      /backend nccl is not available in this build \(its libtorch has no CUDA\); use backend gloo/,
    );
  }
});

/**
 * Two ranks; `waiter` enters an all-reduce that the other never joins. `victim` (if any) is then
 * killed with SIGKILL. Returns the waiter's "failed" event and how it exited.
 */
async function failureOf(waiter: number, victim: number | null) {
  const timeoutSeconds = 5;
  const port = await freePort();
  const ranks = [0, 1].map((rank) =>
    spawnRank({ scenario: "wait", waiter, rank, worldSize: 2, port, timeoutSeconds }),
  );
  try {
    await Promise.all(ranks.map((r) => r.event("ready", START_MS)));
    const survivor = ranks[waiter] as RankProcess;
    await survivor.event("waiting", 30_000);
    await new Promise((resolve) => setTimeout(resolve, 500)); // let it block inside the collective
    const killedAt = Date.now();
    if (victim !== null) (ranks[victim] as RankProcess).child.kill("SIGKILL");
    // Detection may take up to the timeout (plus the wait's slack); allow a lot more.
    const failed = await survivor.event("failed", (timeoutSeconds + 30) * 1000);
    const exit = await survivor.exited(30_000);
    return { failed, exit, stderr: survivor.stderr(), detectedAfterMs: Date.now() - killedAt };
  } finally {
    killAll(ranks);
  }
}

test("a rank killed during a collective: the survivor's error names it, and it exits", {
  ...needsGloo,
  timeout: 180_000,
}, async () => {
  const { failed, exit, stderr } = await failureOf(0, 1);
  assert.equal(failed.lostRank, 1, String(failed.message));
  assert.match(
    String(failed.message),
    /^rank 1 \(pid \d+ on [^)]+\) is gone: the process has ended\. allReduce: /,
  );
  assert.ok((failed.elapsedMs as number) < 35_000, `failed after ${failed.elapsedMs} ms`);
  assert.notEqual(exit.code, 0);
  assert.equal(exit.signal, null);
  assert.match(stderr, /DistributedError: rank 1/);
});

test("rank 0 killed during a collective: the store it hosts is gone, so rank 0 is named", {
  ...needsGloo,
  timeout: 180_000,
}, async () => {
  const { failed, exit } = await failureOf(1, 0);
  assert.equal(failed.lostRank, 0, String(failed.message));
  assert.match(
    String(failed.message),
    /^rank 0 \(pid \d+ on [^)]+\), which hosts the store at 127\.0\.0\.1:\d+, is gone: the store does not answer/,
  );
  assert.notEqual(exit.code, 0);
  assert.equal(exit.signal, null);
});

test("a rank that never joins: the collective fails after the timeout, naming the group", {
  ...needsGloo,
  timeout: 180_000,
}, async () => {
  const { failed, exit } = await failureOf(0, null);
  assert.equal(failed.lostRank, null, String(failed.message));
  assert.match(String(failed.message), /^allReduce: /);
  assert.match(
    String(failed.message),
    /\[group of 2 ranks: rank 0 \(pid \d+ on .+\), rank 1 \(pid \d+ on .+\); this process is rank 0\]$/,
  );
  const elapsed = failed.elapsedMs as number;
  assert.ok(elapsed >= 4000 && elapsed < 40_000, `failed after ${elapsed} ms with a 5 s timeout`);
  assert.notEqual(exit.code, 0);
  assert.equal(exit.signal, null);
});

test("DistributedError carries the lost rank and the backend's error", () => {
  const cause = new Error("allReduce: Connection closed by peer");
  const err = new DistributedError("rank 1 is gone", 1, cause);
  assert.equal(err.name, "DistributedError");
  assert.equal(err.lostRank, 1);
  assert.equal(err.cause, cause);
});
