import assert from "node:assert/strict";
import { test } from "node:test";
import { freePort } from "../src/cli/launch.js";
import { distributedBackends, ProcessGroup, setDefaultDevice } from "../src/engine/index.js";
import { Ranks, SOLO } from "../src/grpo/ranks.js";

const skip = distributedBackends().gloo ? false : "the addon was built without Gloo";

test("a group of one: shares are everything, and gathered values keep NaN and infinities", {
  skip,
}, async () => {
  setDefaultDevice("cpu");
  const group = ProcessGroup.create({
    rank: 0,
    worldSize: 1,
    masterAddr: "127.0.0.1",
    masterPort: await freePort(),
    backend: "gloo",
    timeoutSeconds: 30,
  });
  try {
    const ranks = new Ranks(group);
    assert.equal(ranks.distributed, true);
    assert.deepEqual(ranks.share(["a", "b"]), { items: ["a", "b"], offset: 0 });
    // A non-finite loss must reach every rank as it is (JSON alone would make it null, then 0).
    const [row] = ranks.each({ loss: Number.NaN, high: Number.POSITIVE_INFINITY, low: -Infinity, n: 2 });
    assert.ok(Number.isNaN(row?.loss));
    assert.equal(row?.high, Number.POSITIVE_INFINITY);
    assert.equal(row?.low, Number.NEGATIVE_INFINITY);
    assert.equal(row?.n, 2);
    assert.deepEqual(ranks.gather([1, 2]), [1, 2]);
  } finally {
    group.destroy();
  }
});

test("alone (no group): the identity, and micro-batches split as m mod 1", () => {
  assert.equal(SOLO.distributed, false);
  assert.deepEqual(SOLO.each(Number.NaN), [Number.NaN]);
  assert.ok(SOLO.ownsMicroBatch(0) && SOLO.ownsMicroBatch(7));
  assert.deepEqual(SOLO.portion(5), { start: 0, end: 5 });
});
