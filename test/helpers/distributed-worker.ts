// One rank of a process group, spawned by test/engine-distributed.test.ts. The scenario and the
// group's settings come as JSON in argv[2]; the worker reports on stdout, one JSON object a line:
//   {"event":"ready"}                         the group has formed
//   {"event":"waiting"}                       about to enter a collective that will not complete
//   {"event":"results", ...}                  the collectives scenario's values, for the test to check
//   {"event":"failed", message, lostRank, elapsedMs}   a collective threw (then the error is rethrown)
// Scenarios: "collectives" runs every operation once; "wait" has the `waiter` rank enter an
// all-reduce the others never join (they idle until killed), to see how a failure is reported.
import { DistributedError, ProcessGroup, setDefaultDevice, tensor } from "../../src/engine/index.js";

interface WorkerConfig {
  scenario: "collectives" | "wait";
  rank: number;
  worldSize: number;
  port: number;
  timeoutSeconds: number;
  /** "wait": the rank that enters the collective. */
  waiter?: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as WorkerConfig;
// gloo works on CPU tensors, whatever device the test run's $WORDLE_DEVICE names.
setDefaultDevice("cpu");

function report(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, rank: config.rank, ...fields })}\n`);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const group = ProcessGroup.create({
  rank: config.rank,
  worldSize: config.worldSize,
  masterAddr: "127.0.0.1",
  masterPort: config.port,
  backend: "gloo",
  timeoutSeconds: config.timeoutSeconds,
});
report("ready");

function collectives(): Record<string, unknown> {
  const r = group.rank;
  const results: Record<string, unknown> = {
    properties: [group.rank, group.worldSize, group.localRank, group.backend],
  };

  for (const dtype of ["float32", "float64"] as const) {
    for (const op of ["sum", "max", "min"] as const) {
      const t = tensor([1.5 + r, -2 * (r + 1), 0.1 * (r + 1), 1e6 * (1 - r)], { dtype });
      group.allReduce(t, op);
      results[`allReduce ${op} ${dtype}`] = t.toArray();
      t.dispose();
    }
  }
  const bf16 = tensor([1 + 2 * r, 2.5 - 2 * r], { dtype: "bfloat16" });
  group.allReduce(bf16);
  results["allReduce sum bfloat16"] = [bf16.dtype, ...bf16.toArray()];
  bf16.dispose();
  // A transposed view: the values land in the caller's tensor although it is not contiguous.
  const base = tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]).mul(r + 1);
  const view = base.transpose(0, 1);
  group.allReduce(view);
  results["allReduce transposed view"] = base.tolist();
  base.dispose();
  view.dispose();

  // Several shapes in one bucket, against one all-reduce per tensor of the same values.
  const shapes = [[2, 3], [4], [1, 1, 2], []];
  const make = (): ReturnType<typeof tensor>[] =>
    shapes.map((shape, i) => {
      const n = shape.reduce((a, b) => a * b, 1);
      return tensor(
        Float32Array.from({ length: n }, (_, k) => (k + 1) * (i + 1) + r * 0.25),
        { shape },
      );
    });
  const bucket = make();
  const separate = make();
  group.allReduceFlat(bucket);
  for (const t of separate) group.allReduce(t);
  results.allReduceFlat = bucket.map((t) => ({ shape: t.shape, values: t.toArray() }));
  results["allReduce per tensor"] = separate.map((t) => ({ shape: t.shape, values: t.toArray() }));
  for (const t of [...bucket, ...separate]) t.dispose();

  const b = tensor([10 * r, 10 * r + 1, 10 * r + 2], { dtype: "float64" });
  group.broadcast(b, 1);
  results["broadcast from 1"] = b.toArray();
  b.dispose();

  const gathered = group.allGather(tensor([[r, r + 0.5]]));
  results.allGather = gathered.map((t) => ({ shape: t.shape, values: t.toArray() }));
  for (const t of gathered) t.dispose();

  results.allGatherNumbers = group.allGatherNumbers(r === 0 ? [1, 2.5, -1e300, 0.1] : []);
  results["allGatherNumbers all empty"] = group.allGatherNumbers([]);
  results.allGatherJson = group.allGatherJson({ rank: r, text: 'é ☃ "quoted"', list: Array(r + 1).fill(r) });

  // Rank 1 writes to the store late, then enters the barrier; rank 0 reads after its barrier: the
  // value must be there, which it would not be had the barrier not waited for rank 1.
  if (r === 1) {
    sleepSync(500);
    group.storeSet("before-barrier", "set by rank 1");
  }
  group.barrier();
  if (r === 0) {
    try {
      results["after barrier"] = group.storeGet("before-barrier", 0.001);
    } catch (err) {
      results["after barrier"] = `not set: ${(err as Error).message}`;
    }
  }

  group.destroy();
  group.destroy();
  try {
    group.barrier();
    results["after destroy"] = "no error";
  } catch (err) {
    results["after destroy"] = (err as Error).message;
  }
  return results;
}

if (config.scenario === "collectives") {
  report("results", { results: collectives() });
} else if (config.rank === config.waiter) {
  const t = tensor([1, 2, 3]);
  report("waiting");
  const start = Date.now();
  try {
    group.allReduce(t);
    report("completed");
  } catch (err) {
    const lostRank = err instanceof DistributedError ? err.lostRank : "not a DistributedError";
    report("failed", { message: (err as Error).message, lostRank, elapsedMs: Date.now() - start });
    throw err;
  }
} else {
  // Never joins the collective; stays alive (and in the group) until the test kills it.
  setInterval(() => {}, 1 << 30);
}
