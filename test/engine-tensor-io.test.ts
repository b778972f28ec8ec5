// safetensors glue: the reference fixtures load into tensors; tensors of every dtype round-trip.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { DTYPES, loadSafetensors, saveSafetensors, scope, tensor } from "../src/engine/index.js";
import { FIXTURES_DIR } from "../src/paths.js";

test("the qwen2-tiny fixture loads with the right shapes, optionally as bf16", () => {
  const path = join(FIXTURES_DIR, "qwen2-tiny", "model.safetensors");
  const weights = loadSafetensors(path);
  try {
    assert.ok(weights.size > 0);
    const embed = weights.get("model.embed_tokens.weight");
    assert.ok(embed, "embedding weight present");
    assert.equal(embed.dtype, "float32");
    assert.equal(embed.ndim, 2);
    const bf = loadSafetensors(path, { dtype: "bfloat16", filter: (n) => n === "model.embed_tokens.weight" });
    assert.deepEqual([...bf.keys()], ["model.embed_tokens.weight"]);
    const b = bf.get("model.embed_tokens.weight");
    assert.equal(b?.dtype, "bfloat16");
    scope(() => {
      const diff = b?.float().sub(embed).abs().amax().item() ?? Infinity;
      assert.ok(diff <= embed.abs().amax().item() / 128, `bf16 rounding error ${diff}`);
    });
    b?.dispose();
  } finally {
    for (const t of weights.values()) t.dispose();
  }
});

test("tensors of every dtype survive save and load", () => {
  const dir = mkdtempSync(join(tmpdir(), "engine-io-"));
  try {
    const path = join(dir, "all.safetensors");
    const saved = scope(() => {
      const base = tensor([
        [0, 1, 2],
        [3, 4, 5],
      ]);
      const map = new Map(DTYPES.map((d) => [d, base.to(d)]));
      saveSafetensors(path, map, { format: "pt" });
      return new Map([...map].map(([d, t]) => [d, t.tolist()]));
    });
    const loaded = loadSafetensors(path);
    for (const d of DTYPES) {
      const t = loaded.get(d);
      assert.equal(t?.dtype, d);
      assert.deepEqual(t?.tolist(), saved.get(d));
      t?.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
