// The layers of docs/architecture.md, checked against the imports: a folder of src/ may import
// only folders of a lower layer (and itself), so no lower layer depends on a higher one and there
// is no cycle between folders. test/layers.ts holds the map.
import assert from "node:assert/strict";
import { test } from "node:test";
import { folderImports, LAYERS, layerViolations } from "./layers.js";

test("every import goes to the same folder or to a lower layer (docs/architecture.md)", () => {
  const violations = layerViolations();
  assert.deepEqual(violations, [], violations.map((v) => v.text).join("\n"));
});

test("every folder of src/ has a layer, and the layers are the documented order", () => {
  const folders = [...folderImports().keys()];
  for (const folder of folders) assert.ok(folder in LAYERS, `src/${folder} has no layer in test/layers.ts`);
  assert.ok(LAYERS.util < LAYERS.engine && LAYERS.engine < LAYERS.model && LAYERS.model < LAYERS.task);
  assert.ok(LAYERS.run < LAYERS.eval && LAYERS.eval < LAYERS.grpo && LAYERS.grpo < LAYERS.cli);
});

test("the check sees a violation when there is one", () => {
  const imports = new Map([
    ["run", new Map([["grpo", ["src/run/monitor.ts"]]])],
    ["grpo", new Map([["run", ["src/grpo/trainer.ts"]]])],
  ]);
  const violations = layerViolations(imports);
  assert.equal(violations.length, 1);
  assert.match(violations[0]?.text ?? "", /src\/run\/monitor\.ts imports src\/grpo/);
});
