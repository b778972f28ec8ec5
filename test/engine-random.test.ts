// Random generators: seeding and state save/restore reproduce samples; runtime queries answer.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  cuda,
  getBlasNumThreads,
  getDefaultDevice,
  getNumThreads,
  getRngState,
  manualSeed,
  mps,
  randn,
  scope,
  setNumThreads,
  setRngState,
  tensor,
} from "../src/engine/index.js";

test("manualSeed makes randn reproducible", () =>
  scope(() => {
    manualSeed(123);
    const a = randn([5]).toArray();
    manualSeed(123);
    assert.deepEqual(randn([5]).toArray(), a);
    assert.notDeepEqual(randn([5]).toArray(), a);
  }));

test("RNG state save/restore reproduces randn and multinomial samples", () =>
  scope(() => {
    manualSeed(7);
    randn([3]);
    const device = getDefaultDevice(); // WORDLE_DEVICE=cuda runs this on the CUDA generator
    const state = getRngState(device);
    assert.ok(state instanceof Uint8Array && state.length > 0);
    const probs = tensor([[0.1, 0.2, 0.3, 0.4]]);
    const first = [randn([4]).toArray(), probs.multinomial(8, true).toArray()];
    setRngState(state, device);
    const again = [randn([4]).toArray(), probs.multinomial(8, true).toArray()];
    assert.deepEqual(again, first);
  }));

test("thread count and device queries", () => {
  const before = getNumThreads();
  setNumThreads(1);
  assert.equal(getNumThreads(), 1);
  // Where libtorch runs its matmuls on OpenBLAS (Debian's libtorch), its pool follows.
  if (getBlasNumThreads() !== null) assert.equal(getBlasNumThreads(), 1);
  setNumThreads(2);
  if (getBlasNumThreads() !== null) assert.equal(getBlasNumThreads(), 2);
  setNumThreads(before);
  assert.equal(typeof cuda.isAvailable(), "boolean");
  assert.equal(typeof mps.isAvailable(), "boolean");
  if (!cuda.isAvailable()) assert.throws(() => cuda.synchronize(), /CUDA is not available/);
});
