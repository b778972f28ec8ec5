// Tensor ops against values worked out by hand.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  arange,
  cat,
  embedding,
  full,
  getDefaultDevice,
  ones,
  scope,
  stack,
  tensor,
  where,
  zeros,
} from "../src/engine/index.js";

function close(actual: readonly number[], expected: readonly number[], tol = 1e-5): void {
  assert.equal(actual.length, expected.length, `length ${actual.length} != ${expected.length}`);
  actual.forEach((a, i) => {
    const e = expected[i] as number;
    assert.ok(Math.abs(a - e) <= tol * (1 + Math.abs(e)), `element ${i}: ${a} != ${e}`);
  });
}

test("creation: shapes, dtypes and values", () =>
  scope(() => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(a.shape, [2, 3]);
    assert.equal(a.dtype, "float32");
    assert.equal(a.device, getDefaultDevice() === "cuda" ? "cuda:0" : getDefaultDevice());
    assert.deepEqual(a.tolist(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.equal(tensor([true, false]).dtype, "bool");
    assert.deepEqual(tensor([true, false]).toBoolArray(), [true, false]);
    assert.equal(tensor(new Int32Array([1, 2])).dtype, "int32");
    assert.deepEqual(tensor(new Float32Array([1, 2, 3, 4]), { shape: [2, 2] }).shape, [2, 2]);
    assert.deepEqual(tensor([1.5, 2.5], { dtype: "int64" }).toBigInt64Array(), new BigInt64Array([1n, 2n]));
    assert.deepEqual(zeros([2, 2]).toArray(), [0, 0, 0, 0]);
    assert.deepEqual(ones([3], { dtype: "int32" }).toInt32Array(), new Int32Array([1, 1, 1]));
    assert.deepEqual(full([2], 7).toArray(), [7, 7]);
    assert.deepEqual(arange(4).toArray(), [0, 1, 2, 3]);
    assert.equal(arange(4).dtype, "int64");
    assert.deepEqual(arange(1, 2, 0.25).toArray(), [1, 1.25, 1.5, 1.75]);
    assert.equal(tensor(3).item(), 3);
    assert.deepEqual(tensor(3).shape, []);
    assert.throws(() => tensor([[1, 2], [3]]), /ragged/);
  }));

test("matmul, linear and element-wise arithmetic", () =>
  scope(() => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([
      [5, 6],
      [7, 8],
    ]);
    assert.deepEqual(a.matmul(b).toArray(), [19, 22, 43, 50]);
    // linear(x, W, b) = x W^T + b
    assert.deepEqual(a.linear(b, tensor([1, -1])).toArray(), [18, 22, 40, 52]);
    assert.deepEqual(a.add(b).toArray(), [6, 8, 10, 12]);
    assert.deepEqual(a.add(b, 2).toArray(), [11, 14, 17, 20]);
    assert.deepEqual(a.sub(1).toArray(), [0, 1, 2, 3]);
    assert.deepEqual(a.mul(b).toArray(), [5, 12, 21, 32]);
    assert.deepEqual(a.div(2).toArray(), [0.5, 1, 1.5, 2]);
    assert.deepEqual(a.pow(2).toArray(), [1, 4, 9, 16]);
    assert.deepEqual(a.neg().toArray(), [-1, -2, -3, -4]);
    assert.deepEqual(a.maximum(tensor([2, 2])).toArray(), [2, 2, 3, 4]);
    assert.deepEqual(a.minimum(2.5).toArray(), [1, 2, 2.5, 2.5]);
    assert.deepEqual(a.clamp(2, 3).toArray(), [2, 2, 3, 3]);
    close(tensor([0, 1]).exp().toArray(), [1, Math.E]);
    close(tensor([1, Math.E]).log().toArray(), [0, 1]);
    close(tensor([4, 16]).rsqrt().toArray(), [0.5, 0.25]);
    close(tensor([4, 9]).sqrt().toArray(), [2, 3]);
    close(tensor([-1, 2]).abs().toArray(), [1, 2]);
    close(tensor([0, 2]).sigmoid().toArray(), [0.5, 1 / (1 + Math.exp(-2))]);
    close(tensor([0, 2]).silu().toArray(), [0, 2 / (1 + Math.exp(-2))]);
    close(tensor([0, 1]).tanh().toArray(), [0, Math.tanh(1)]);
  }));

test("comparisons, where and masked_fill", () =>
  scope(() => {
    const a = tensor([1, 2, 3]);
    assert.deepEqual(a.eq(2).toBoolArray(), [false, true, false]);
    assert.deepEqual(a.ne(2).toBoolArray(), [true, false, true]);
    assert.deepEqual(a.lt(2).toBoolArray(), [true, false, false]);
    assert.deepEqual(a.le(2).toBoolArray(), [true, true, false]);
    assert.deepEqual(a.gt(tensor([0, 2, 4])).toBoolArray(), [true, false, false]);
    assert.deepEqual(a.ge(2).toBoolArray(), [false, true, true]);
    assert.deepEqual(where(a.gt(1), a, 0).toArray(), [0, 2, 3]);
    assert.deepEqual(where(a.gt(1), 1, -1).toArray(), [-1, 1, 1]);
    assert.deepEqual(a.maskedFill(a.eq(3), -Infinity).toArray(), [1, 2, -Infinity]);
  }));

test("reductions with dims and keepdim", () =>
  scope(() => {
    const a = tensor([
      [1, 5, 3],
      [4, 2, 6],
    ]);
    assert.equal(a.sum().item(), 21);
    assert.deepEqual(a.sum(0).toArray(), [5, 7, 9]);
    assert.deepEqual(a.sum(1, true).shape, [2, 1]);
    assert.equal(a.mean().item(), 3.5);
    assert.deepEqual(a.mean([0, 1]).toArray(), [3.5]);
    assert.equal(a.max().item(), 6);
    const { values, indices } = a.max(1);
    assert.deepEqual(values.toArray(), [5, 6]);
    assert.deepEqual(indices.toArray(), [1, 2]);
    assert.deepEqual(a.min(0).values.toArray(), [1, 2, 3]);
    assert.deepEqual(a.amax(1).toArray(), [5, 6]);
    assert.deepEqual(a.argmax(1).toArray(), [1, 2]);
    assert.equal(a.argmax().item(), 5);
    close(
      tensor([0, Math.log(3)])
        .logsumexp(0)
        .toArray(),
      [Math.log(4)],
    );
    assert.deepEqual(tensor([1, 2, 3]).cumsum(0).toArray(), [1, 3, 6]);
    close(tensor([3, 4]).norm().toArray(), [5]);
  }));

test("softmax and log_softmax", () =>
  scope(() => {
    const x = tensor([[0, Math.log(3)]]);
    close(x.softmax(-1).toArray(), [0.25, 0.75]);
    close(x.logSoftmax(-1).toArray(), [Math.log(0.25), Math.log(0.75)]);
    close(x.to("bfloat16").softmax(-1, "float32").toArray(), [0.25, 0.75], 1e-2);
  }));

test("gather, index_select, embedding and topk/sort", () =>
  scope(() => {
    const a = tensor([
      [10, 11, 12],
      [20, 21, 22],
    ]);
    const idx = tensor(
      [
        [2, 0],
        [1, 1],
      ],
      { dtype: "int64" },
    );
    assert.deepEqual(a.gather(1, idx).toArray(), [12, 10, 21, 21]);
    assert.deepEqual(a.indexSelect(1, tensor([2, 0], { dtype: "int64" })).toArray(), [12, 10, 22, 20]);
    const e = embedding(a, tensor([[1, 0, 1]], { dtype: "int64" }));
    assert.deepEqual(e.shape, [1, 3, 3]);
    assert.deepEqual(e.toArray(), [20, 21, 22, 10, 11, 12, 20, 21, 22]);
    const t = tensor([3, 1, 4, 1, 5]).topk(2);
    assert.deepEqual(t.values.toArray(), [5, 4]);
    assert.deepEqual(t.indices.toArray(), [4, 2]);
    assert.deepEqual(tensor([3, 1, 2]).sort(0, true).values.toArray(), [3, 2, 1]);
    assert.deepEqual(tensor([3, 1, 2]).argsort().toArray(), [1, 2, 0]);
  }));

test("shape ops: cat, stack, split, chunk, view, transpose, permute, narrow, slice, expand, repeat", () =>
  scope(() => {
    const a = arange(6, { dtype: "float32" }).view(2, 3);
    assert.deepEqual(a.transpose(0, 1).contiguous().toArray(), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(a.permute(1, 0).shape, [3, 2]);
    assert.deepEqual(a.reshape([3, 2]).shape, [3, 2]);
    assert.deepEqual(a.reshape(-1).shape, [6]);
    assert.deepEqual(cat([a, a], 0).shape, [4, 3]);
    assert.deepEqual(stack([a, a], 1).shape, [2, 2, 3]);
    const parts = a.split(2, 1);
    assert.deepEqual(
      parts.map((p) => p.shape),
      [
        [2, 2],
        [2, 1],
      ],
    );
    assert.deepEqual(
      a.split([1, 2], 1).map((p) => p.toArray()),
      [
        [0, 3],
        [1, 2, 4, 5],
      ],
    );
    assert.equal(a.chunk(3, 1).length, 3);
    assert.deepEqual(a.unsqueeze(0).shape, [1, 2, 3]);
    assert.deepEqual(a.unsqueeze(0).squeeze().shape, [2, 3]);
    assert.deepEqual(a.narrow(1, 1, 2).toArray(), [1, 2, 4, 5]);
    assert.deepEqual(a.slice(1, -2).toArray(), [1, 2, 4, 5]);
    assert.deepEqual(a.slice(1, 0, 3, 2).toArray(), [0, 2, 3, 5]);
    assert.deepEqual(a.select(0, 1).toArray(), [3, 4, 5]);
    assert.deepEqual(tensor([1, 2]).unsqueeze(1).expand(2, 3).toArray(), [1, 1, 1, 2, 2, 2]);
    assert.deepEqual(tensor([1, 2]).repeat(2).toArray(), [1, 2, 1, 2]);
    assert.deepEqual(tensor([1, 2]).repeatInterleave(2).toArray(), [1, 1, 2, 2]);
    assert.deepEqual(ones([3, 3]).triu(1).toArray(), [0, 1, 1, 0, 0, 1, 0, 0, 0]);
    assert.deepEqual(ones([3, 3]).tril().toArray(), [1, 0, 0, 1, 1, 0, 1, 1, 1]);
  }));

test("dtype moves, clone/detach and in-place ops", () =>
  scope(() => {
    const a = tensor([1.5, -2.25]);
    assert.equal(a.to("bfloat16").dtype, "bfloat16");
    assert.deepEqual(a.to("bfloat16").toArray(), [1.5, -2.25]); // exactly representable
    assert.deepEqual(a.to("int64").toArray(), [1, -2]);
    assert.deepEqual(
      a.to({ dtype: "float64", device: "cpu" }).toFloat64Array(),
      new Float64Array([1.5, -2.25]),
    );
    const c = a.clone();
    c.add_(1).mul_(2);
    assert.deepEqual(c.toArray(), [5, -2.5]);
    assert.deepEqual(a.toArray(), [1.5, -2.25], "clone does not alias");
    c.addcmul_(tensor([1, 1]), tensor([2, 3]), 0.5);
    assert.deepEqual(c.toArray(), [6, -1]);
    c.addcdiv_(tensor([4, 4]), tensor([2, 4]), -1);
    assert.deepEqual(c.toArray(), [4, -2]);
    c.copy_(tensor([9, 8]));
    assert.deepEqual(c.toArray(), [9, 8]);
    c.zero_();
    assert.deepEqual(c.toArray(), [0, 0]);
    // raw bytes round-trip through bf16 (what safetensors stores)
    const bf = tensor([1, 0.5, -3]).to("bfloat16");
    const bytes = bf.toBytes();
    assert.equal(bytes.length, 6);
    assert.deepEqual([...bytes.slice(0, 2)], [0x80, 0x3f], "bf16 of 1.0 is 0x3f80 little-endian");
  }));

test("multinomial samples only where the weights are non-zero", () =>
  scope(() => {
    const w = tensor([
      [0, 1, 0],
      [0.5, 0, 0.5],
    ]);
    const s = w.multinomial(1).toArray();
    assert.equal(s[0], 1);
    assert.ok(s[1] === 0 || s[1] === 2);
  }));
