import assert from "node:assert/strict";
import { ConfigError } from "../../src/grpo/config/config.js";

/** The message of the ConfigError `fn` throws (fails the test when it throws anything else or nothing). */
export function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    return err.message;
  }
  assert.fail("expected a ConfigError");
}
