// libtorch errors and bad arguments surface as JS exceptions that name the op and the shapes.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AtenOp } from "../src/engine/aten.js";
import { fromBytes, fromFile, ones, scope, tensor, zeros } from "../src/engine/index.js";
import { call } from "../src/engine/tensor.js";

// Off the CPU a tensor's description carries its device ("float32[2, 3]@cuda:0"); the tests run
// on the default device ($WORDLE_DEVICE), so the expected messages include the same suffix.
function onDefaultDevice(): string {
  const device = ones([1]).device;
  return device === "cpu" ? "" : `@${device}`;
}

test("shape mismatches in ops throw a JS Error naming op and input shapes", () =>
  scope(() => {
    const at = onDefaultDevice();
    assert.throws(
      () => ones([2, 3]).matmul(ones([4, 5])),
      new RegExp(
        `aten::matmul\\(float32\\[2, 3\\]${at}, float32\\[4, 5\\]${at}\\).*shapes cannot be multiplied`,
      ),
    );
    assert.throws(
      () => ones([2, 3]).add(ones([4])),
      new RegExp(
        `aten::add\\.Tensor\\(float32\\[2, 3\\]${at}, float32\\[4\\]${at}.*size of tensor a \\(3\\) must match`,
      ),
    );
    assert.throws(() => ones([6]).view(4), /aten::view/);
    // On CUDA an out-of-range index is a device-side assert that poisons the whole CUDA context
    // (WORDLE_DEVICE=cuda), not an exception, so the bounds check is exercised on the CPU.
    assert.throws(
      () => ones([2], { device: "cpu" }).gather(0, tensor([5], { dtype: "int64", device: "cpu" })),
      /aten::gather/,
    );
    // the process is still fine afterwards
    assert.deepEqual(ones([2]).add(1).toArray(), [2, 2]);
  }));

test("dtype errors and autograd misuse throw instead of crashing", () =>
  scope(() => {
    assert.throws(() => ones([2]).gather(0, tensor([0], { dtype: "float32" })), /gather/);
    assert.throws(
      () => ones([2, 2]).backward(),
      new RegExp(`backward\\(float32\\[2, 2\\]${onDefaultDevice()}\\)`),
    );
    const x = ones([2], { requiresGrad: true });
    const y = x.mul(x).sum(); // saves x for backward, so a second backward must fail
    y.backward();
    assert.throws(() => y.backward(), /backward.*second time|backward/i);
    assert.throws(() => ones([1]).backward(), /does not require grad/);
  }));

test("bad data and arguments give clear errors", () =>
  scope(() => {
    assert.throws(
      () => fromBytes(new Uint8Array(3), "float32", [1]),
      /3 bytes given, shape \[1\] of float32 needs 4/,
    );
    assert.throws(() => tensor([1, 2], { shape: [3] }), /2 values do not fit shape \[3\]/);
    assert.throws(() => zeros([2], { device: "tpu" as "cpu" }), /invalid device "tpu"/);
    assert.throws(() => ones([2]).to({ device: "cuda:7" }), /cuda|CUDA/);
    assert.throws(
      () => fromFile("/nonexistent/file.bin", 0, "float32", [2]),
      /cannot open \/nonexistent\/file\.bin/,
    );
    assert.throws(() => ones([2]).sum(0.5), /expects an integer/);
  }));

test("unknown operators and wrong argument counts are reported, not crashes", () =>
  scope(() => {
    assert.throws(
      () => new AtenOp("aten::no_such_op").id,
      /operator aten::no_such_op is not available in this libtorch/,
    );
    assert.throws(
      () => call(new AtenOp("aten::neg"), ones([1]).handle, 1, 2),
      /aten::neg: got 3 arguments, the schema takes 1/,
    );
    assert.throws(() => call(new AtenOp("aten::matmul")), /missing required argument 'self'/);
  }));
