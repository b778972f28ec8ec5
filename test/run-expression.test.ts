import assert from "node:assert/strict";
import { test } from "node:test";
import {
  conjuncts,
  ExpressionError,
  evaluate,
  formatExpression,
  leftValue,
  type MetricSource,
  metricsUsed,
  parseExpression,
} from "../src/run/expression.js";
import { metricAliases } from "../src/run/metric-names.js";

const names = metricAliases(["format", "feedback", "info_gain"]);
const parse = (s: string) => parseExpression(s, names);

function source(latest: Record<string, number>, running: Record<string, number> = {}): MetricSource {
  return { latest: (k) => latest[k], runningMean: (k) => running[k] };
}

test("names resolve to metric keys: total -> reward, reward functions -> rewards/<fn>/mean", () => {
  const used = metricsUsed(
    parse("running_mean(total) > 1.5 AND running_mean(feedback) > 0 AND format_rate >= 0.9"),
  );
  assert.deepEqual(used, [
    { key: "reward", fn: "running_mean" },
    { key: "rewards/feedback/mean", fn: "running_mean" },
    { key: "behaviour/format_rate", fn: "last" },
  ]);
  assert.deepEqual(metricsUsed(parse("eval/win_rate > 0.3")), [{ key: "eval/win_rate", fn: "last" }]);
  assert.deepEqual(metricsUsed(parse("last(info_gain_reward) < 2")), [
    { key: "rewards/info_gain/mean", fn: "last" },
  ]);
});

test("evaluation: comparisons, AND/OR/NOT, parentheses, arithmetic, precedence", () => {
  const src = source({ reward: 1.2, kl: 0.01 }, { reward: 1.6, "rewards/feedback/mean": -0.1 });
  assert.equal(evaluate(parse("running_mean(total) > 1.5"), src), true);
  assert.equal(evaluate(parse("running_mean(total) > 1.5 AND running_mean(feedback) > 0"), src), false);
  assert.equal(evaluate(parse("running_mean(total) > 1.5 or running_mean(feedback) > 0"), src), true);
  assert.equal(evaluate(parse("NOT running_mean(feedback) > 0"), src), true);
  assert.equal(evaluate(parse("!(total >= 1.2) || kl == 0.01"), src), true);
  assert.equal(evaluate(parse("total - 0.2 * 2 > 0.79 && total - 0.2 * 2 < 0.81"), src), true, "* before -");
  assert.equal(evaluate(parse("-total < -1"), src), true);
  // AND binds tighter than OR: false OR (true AND true)
  assert.equal(evaluate(parse("kl > 1 OR total > 1 AND kl < 1"), src), true);
  assert.equal(evaluate(parse("(kl > 1 OR total > 1) AND kl > 1"), src), false);
  assert.equal(evaluate(parse("total != 1.2"), src), false);
  assert.equal(evaluate(parse("1e-3 < kl"), src), true);
});

test("missing metrics are unknown, with three-valued AND/OR", () => {
  const src = source({ reward: 2 });
  assert.equal(evaluate(parse("kl < 1"), src), undefined);
  assert.equal(evaluate(parse("kl < 1 AND total > 5"), src), false, "false AND unknown = false");
  assert.equal(evaluate(parse("kl < 1 OR total > 1"), src), true, "unknown OR true = true");
  assert.equal(evaluate(parse("kl < 1 OR total > 5"), src), undefined);
  assert.equal(evaluate(parse("NOT kl < 1"), src), undefined);
});

test("errors: unknown metric or function (with suggestion), syntax, types", () => {
  const err = (s: string) => {
    try {
      parse(s);
    } catch (e) {
      assert.ok(e instanceof ExpressionError);
      return e.message;
    }
    assert.fail(`expected "${s}" to fail`);
  };
  assert.match(
    err("running_mean(feedbak) > 0"),
    /column 14: unknown metric `feedbak`\. Did you mean `feedback`\?/,
  );
  assert.match(
    err("runing_mean(total) > 0"),
    /unknown function `runing_mean`.*Did you mean `running_mean`\?/,
  );
  assert.match(err("total >"), /unexpected end of expression/);
  assert.match(err("(total > 1"), /expected `\)`/);
  assert.match(err("total > 1 1"), /unexpected `1` after a complete expression/);
  assert.match(err("total"), /must be a comparison/);
  assert.match(err("total AND kl > 1"), /AND needs a comparison/);
  assert.match(err("(total > 1) > 2"), /`>` needs a number/);
  assert.match(err("total / 2 > 1"), /unexpected `\/`|unknown metric/);
  assert.match(err("total > 1 ; rm -rf"), /unexpected character `;`/);
  assert.match(err("running_mean(1) > 0"), /takes a metric name/);
  // The caret points at the problem.
  const lines = err("total > 1 AND bogus > 2").split("\n");
  assert.equal(lines[2]!.indexOf("^") - 2, "total > 1 AND ".length);
});

test("conjuncts split top-level ANDs; formatExpression prints them back", () => {
  const parts = conjuncts(parse("running_mean(total) > 1.5 AND (running_mean(feedback) > 0 AND kl < 0.1)"));
  assert.deepEqual(parts.map(formatExpression), [
    "running_mean(total) > 1.5",
    "running_mean(feedback) > 0",
    "kl < 0.1",
  ]);
  assert.equal(
    formatExpression(parse("(a_x > 1 OR kl > 2) AND NOT total < 1".replace("a_x", "reward"))),
    "(reward > 1 OR kl > 2) AND NOT total < 1",
  );
  assert.equal(formatExpression(parse("total - (kl - 1) * 2 > 0")), "total - (kl - 1) * 2 > 0");
  assert.equal(conjuncts(parse("total > 1 OR kl > 1")).length, 1, "OR is not split");
});

test("leftValue is the numeric side of a comparison", () => {
  const src = source({}, { reward: 1.25 });
  assert.equal(leftValue(parse("running_mean(total) > 1.5"), src), 1.25);
  assert.equal(leftValue(parse("running_mean(kl) > 1.5"), src), undefined);
});
