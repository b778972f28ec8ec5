import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { resolveConfig } from "../src/grpo/config/config.js";
import { parseOverrideValue, parseSetOverrides } from "../src/grpo/config/load.js";
import { temperatureAt } from "../src/grpo/config/temperature.js";
import { closestMatch, levenshtein } from "../src/util/suggest.js";
import { configError } from "./helpers/config-error.js";
import { withTempDir } from "./helpers/temp-dir.js";

test("levenshtein and closest key", () => {
  assert.equal(levenshtein("kitten", "sitting"), 3);
  assert.equal(levenshtein("", "abc"), 3);
  assert.equal(levenshtein("same", "same"), 0);
  const keys = ["learning_rate", "num_generations", "epsilon", "epsilon_high", "beta"];
  assert.equal(closestMatch("learning_rat", keys), "learning_rate");
  assert.equal(closestMatch("learning-rate", keys), "learning_rate");
  assert.equal(closestMatch("epsilon_hi", keys), "epsilon_high");
  assert.equal(closestMatch("zzzzzzzz", keys), undefined);
});

test("the trl preset is TRL's GRPOConfig defaults", () => {
  const { config } = resolveConfig({ preset: "trl" });
  assert.equal(config.learning_rate, 1e-6);
  assert.equal(config.beta, 0);
  assert.equal(config.epsilon, 0.2);
  assert.equal(config.epsilon_high, 0.2, "epsilon_high defaults to epsilon");
  assert.equal(config.loss_type, "dapo");
  assert.equal(config.scale_rewards, "group");
  assert.equal(config.num_generations, 8);
  assert.equal(config.per_device_train_batch_size, 8);
  assert.equal(config.gradient_accumulation_steps, 1);
  assert.equal(config.num_iterations, 1);
  assert.equal(config.max_completion_length, 256);
  assert.equal(config.temperature, 1);
  assert.equal(config.top_p, 1);
  assert.equal(config.top_k, null);
  assert.equal(config.min_p, null);
  assert.equal(config.repetition_penalty, 1);
  assert.equal(config.mask_truncated_completions, false);
  assert.equal(config.max_grad_norm, 1);
  assert.equal(config.num_train_epochs, 3);
  assert.equal(config.max_steps, -1);
  assert.equal(config.logging_steps, 10);
  assert.equal(config.save_steps, 500);
  assert.equal(config.save_total_limit, null);
  assert.equal(config.seed, 42);
  assert.equal(config.gradient_checkpointing, false);
  assert.equal(config.lr_scheduler_type, "linear");
  assert.equal(config.warmup_ratio, 0);
  assert.equal(config.optim, "adamw");
  assert.equal(config.metric_for_best_model, "eval/win_rate");
  assert.equal(config.greater_is_better, true);
});

test("the seed preset is the training plan", () => {
  const { config, warnings } = resolveConfig({ preset: "seed" });
  assert.equal(config.per_device_train_batch_size, 2);
  assert.equal(config.num_generations, 2);
  assert.equal(config.max_completion_length, 128);
  assert.equal(config.gradient_checkpointing, true);
  assert.equal(config.num_train_epochs, 70);
  assert.equal(config.logging_steps, 10);
  assert.equal(config.eval_steps, 100);
  assert.equal(config.save_steps, 100);
  assert.equal(config.save_total_limit, 10);
  assert.deepEqual(config.temperature_schedule, { start: 0.3, end: 0.1, decay: "linear" });
  assert.equal(config.top_p, 0.9);
  assert.equal(config.top_k, 50);
  assert.equal(config.min_p, 0.05);
  assert.equal(config.repetition_penalty, 1.2);
  assert.equal(config.beta, 0.1);
  assert.equal(config.scale_rewards, "none");
  assert.equal(config.max_grad_norm, 0.5);
  assert.equal(config.optim, "sgd");
  assert.equal(config.momentum, 0.9);
  assert.equal(config.reward.preset, "seed");
  assert.equal(config.prompt_template, "course");
  assert.deepEqual(config.success_criteria, ["running_mean(total) > 1.5 AND running_mean(feedback) > 0"]);
  assert.deepEqual(
    config.milestones.map((m) => m.step),
    [500, 1000, 1500, 2100],
  );
  assert.ok(
    warnings.some((w) => /sgd/.test(w)),
    "SGD at TRL's 1e-6 is flagged",
  );
});

test("the default preset resolves without errors or warnings", () => {
  const { config, warnings } = resolveConfig();
  assert.deepEqual(warnings, []);
  assert.equal(config.reward.preset, "exact");
  assert.equal(
    (config.per_device_train_batch_size * config.gradient_accumulation_steps) % config.num_generations,
    0,
  );
});

test("unknown keys fail at every level, naming the layer and the closest key", () => {
  const message = configError(() =>
    resolveConfig({
      preset: "seed",
      overrides: [
        "learning_rat=1e-5",
        "lora.rank=8",
        "plateau.windw=100",
        'milestones=[{"step": 5, "expct": "total > 1"}]',
        'eval={"gams": 3}',
      ],
    }),
  );
  assert.match(message, /unknown key `learning_rat`\. Did you mean `learning_rate`\?/);
  assert.match(message, /unknown key `rank` in `lora`\. Did you mean `r`\?/);
  assert.match(message, /unknown key `windw` in `plateau`\. Did you mean `window`\?/);
  assert.match(message, /unknown key `expct` in `milestones\[0\]`\. Did you mean `expect`\?/);
  assert.match(message, /unknown key `gams` in `eval`\. Did you mean `games`\?/);
  assert.match(message, /overrides \(--set/);
});

test("wrong types and ranges name the key, the value and the layer", () => {
  const message = configError(() => resolveConfig({ overrides: ["lora.r=-2", "loss_type=dpo"] }));
  assert.match(message, /lora\.r: .*got -2.*from overrides/);
  assert.match(message, /loss_type: .*"grpo".*got "dpo"/);
});

test("scale_rewards accepts true/false as TRL did; optim accepts HF's adamw names", () => {
  assert.equal(resolveConfig({ overrides: ["scale_rewards=true"] }).config.scale_rewards, "group");
  assert.equal(resolveConfig({ overrides: ["scale_rewards=false"] }).config.scale_rewards, "none");
  assert.equal(resolveConfig({ overrides: ["scale_rewards=batch"] }).config.scale_rewards, "batch");
  assert.equal(resolveConfig({ overrides: ["optim=adamw_torch"] }).config.optim, "adamw");
});

test("batch 1 with G 2 is rejected, naming both settings and a fix", () => {
  const message = configError(() =>
    resolveConfig({ preset: "seed", overrides: ["per_device_train_batch_size=1"] }),
  );
  assert.match(message, /per_device_train_batch_size \(1\)/);
  assert.match(message, /num_generations \(2\)/);
  assert.match(message, /Fix: set per_device_train_batch_size to 2, or gradient_accumulation_steps to 2/);
});

test("other combinations: G < 2, epsilon_high < epsilon, bad reward weights, bad expressions", () => {
  assert.match(
    configError(() => resolveConfig({ overrides: { num_generations: 1, per_device_train_batch_size: 4 } })),
    /num_generations = 1.*Fix: set num_generations to 2 or more/s,
  );
  assert.match(
    configError(() =>
      resolveConfig({
        preset: "tiny",
        overrides: { "multi_turn.show_refused": true, "multi_turn.invalid_ends_game": true },
      }),
    ),
    /show_refused with multi_turn\.invalid_ends_game.*Fix: set multi_turn\.invalid_ends_game to false/s,
  );
  assert.match(
    configError(() => resolveConfig({ preset: "tiny", overrides: { "multi_turn.information": 0.5 } })),
    /multi_turn\.information = 0\.5 with multi_turn\.credit = "letter".*Fix: set multi_turn\.credit to "turn" or "game"/s,
  );
  assert.match(
    configError(() => resolveConfig({ preset: "tiny", overrides: { "multi_turn.constrain": "hard" } })),
    /multi_turn\.constrain/,
  );
  assert.match(
    configError(() => resolveConfig({ overrides: { epsilon: 0.2, epsilon_high: 0.1 } })),
    /epsilon_high \(0\.1\) < epsilon \(0\.2\).*Fix/s,
  );
  assert.match(
    configError(() => resolveConfig({ preset: "seed", overrides: { "reward.weights": { win: 1 } } })),
    /reward\.weights\.win: the "seed" reward preset has no function `win`/,
  );
  assert.match(
    configError(() => resolveConfig({ overrides: { success_criteria: ["running_mean(feedbak) > 0"] } })),
    /unknown metric `feedbak`\. Did you mean `feedback`\?/,
  );
  assert.match(
    configError(() => resolveConfig({ overrides: { milestones: [{ step: 10, expect: "avg(total) > 1" }] } })),
    /milestones\[0\]\.expect.*unknown function `avg`/,
  );
});

test("layers: file over preset, overrides over file; JSON and TOML files", () => {
  withTempDir("grpo-config", (dir) => {
    const toml = join(dir, "run.toml");
    writeFileSync(
      toml,
      [
        "learning_rate = 5e-6",
        "num_generations = 4",
        "per_device_train_batch_size = 8",
        "[lora]",
        "r = 8",
        "[plateau]",
        "early_stop = true",
      ].join("\n"),
    );
    const { config } = resolveConfig({
      preset: "seed",
      file: toml,
      overrides: ["lora.alpha=16", "learning_rate=1e-5"],
    });
    assert.equal(config.learning_rate, 1e-5, "override beats file");
    assert.equal(config.num_generations, 4, "file beats preset");
    assert.equal(config.lora.r, 8);
    assert.equal(config.lora.alpha, 16);
    assert.equal(config.lora.dropout, 0.05, "untouched nested keys keep their defaults");
    assert.equal(config.plateau.early_stop, true);
    assert.equal(config.per_device_train_batch_size, 8);
    assert.equal(config.optim, "sgd", "preset keys the file does not mention stay");

    const json = join(dir, "run.json");
    writeFileSync(json, JSON.stringify({ beta: 0.04, lora: { r: 32 } }));
    const fromJson = resolveConfig({ file: json }).config;
    assert.equal(fromJson.beta, 0.04);
    assert.equal(fromJson.lora.r, 32);

    const typo = join(dir, "typo.toml");
    writeFileSync(typo, "[lora]\nalfa = 3\n");
    assert.match(
      configError(() => resolveConfig({ file: typo })),
      /config file .*typo\.toml: unknown key `alfa` in `lora`\. Did you mean `alpha`\?/,
    );

    const broken = join(dir, "broken.json");
    writeFileSync(broken, "{ not json");
    assert.throws(() => resolveConfig({ file: broken }), /broken\.json: not valid JSON/);
  });
  assert.throws(() => resolveConfig({ file: "/nonexistent/run.toml" }), /cannot read it/);
});

test("--set parsing: JSON values, bare strings, dotted keys, errors", () => {
  assert.equal(parseOverrideValue("1e-6"), 1e-6);
  assert.equal(parseOverrideValue("true"), true);
  assert.equal(parseOverrideValue("null"), null);
  assert.equal(parseOverrideValue("seed"), "seed");
  assert.deepEqual(parseOverrideValue('["q_proj","v_proj"]'), ["q_proj", "v_proj"]);
  assert.deepEqual(parseSetOverrides(["lora.r=8", "lora.use_rslora=true", "reward.preset=course"]), {
    lora: { r: 8, use_rslora: true },
    reward: { preset: "course" },
  });
  assert.throws(() => parseSetOverrides(["learning_rate"]), /expected key=value/);
  assert.throws(() => resolveConfig({ preset: "sede" }), /unknown preset `sede`.*Did you mean `seed`\?/);
});

test("temperature schedule: linear and cosine decay from start to end", () => {
  const { config } = resolveConfig({ preset: "seed" });
  assert.equal(temperatureAt(config, 0), 0.3);
  assert.ok(Math.abs(temperatureAt(config, 0.5) - 0.2) < 1e-12);
  assert.ok(Math.abs(temperatureAt(config, 1) - 0.1) < 1e-12);
  assert.ok(Math.abs(temperatureAt(config, 2) - 0.1) < 1e-12, "progress is clamped");
  const cosine = { ...config, temperature_schedule: { start: 1, end: 0.5, decay: "cosine" as const } };
  assert.ok(Math.abs(temperatureAt(cosine, 0.5) - 0.75) < 1e-12);
  assert.ok(temperatureAt(cosine, 0.1) > 1 - 0.05, "cosine lingers near start");
  assert.equal(temperatureAt({ ...config, temperature_schedule: null }, 0.7), config.temperature);
});

test("lora.target_modules accepts a comma-separated --set value", () => {
  const { config } = resolveConfig({ overrides: ["lora.target_modules=q_proj, v_proj"] });
  assert.deepEqual(config.lora.target_modules, ["q_proj", "v_proj"]);
});

test("TRL's loss-family keys are accepted, with TRL's defaults", () => {
  const { config, warnings } = resolveConfig({ preset: "trl" });
  assert.deepEqual(warnings, []);
  const trlDefaults = {
    importance_sampling_level: "token",
    delta: null,
    sapo_temperature_pos: 1.0,
    sapo_temperature_neg: 1.05,
    vespo_k_pos: 2.0,
    vespo_lambda_pos: 3.0,
    vespo_k_neg: 3.0,
    vespo_lambda_neg: 2.0,
    use_bias_correction_kl: false,
    off_policy_mask_threshold: null,
    top_entropy_quantile: 1.0,
    entropy_coef: 0.0,
    use_adaptive_entropy: false,
    entropy_coef_min: 0.0,
    entropy_coef_max: 1.0,
    entropy_coef_delta: 0.005,
    entropy_target: 0.2,
    multi_objective_aggregation: "sum_then_normalize",
  };
  for (const [key, value] of Object.entries(trlDefaults))
    assert.equal(config[key as keyof typeof config], value, key);
  for (const lossType of ["grpo", "bnpo", "dr_grpo", "dapo", "cispo", "sapo", "vespo", "luspo"])
    assert.equal(resolveConfig({ overrides: { loss_type: lossType } }).config.loss_type, lossType);
  const gspo = resolveConfig({
    overrides: { loss_type: "grpo", importance_sampling_level: "sequence", delta: 1.5, entropy_coef: 0.01 },
  });
  assert.deepEqual(gspo.warnings, []);
});

test("values TRL refuses fail with TRL's reason", () => {
  assert.match(
    configError(() => resolveConfig({ overrides: { importance_sampling_level: "batch" } })),
    /Unknown importance sampling level: "batch"\. Possible values are 'token' and 'sequence'\./,
  );
  assert.match(
    configError(() => resolveConfig({ overrides: { multi_objective_aggregation: "mean" } })),
    /Invalid multi_objective_aggregation: "mean"\. Must be 'sum_then_normalize' or 'normalize_then_sum'\./,
  );
  assert.match(
    configError(() => resolveConfig({ overrides: { loss_type: "ppo" } })),
    /loss_type: .*"cispo".*"luspo".*got "ppo"/,
  );
  assert.match(
    configError(() => resolveConfig({ overrides: { top_entropy_quantile: 1.5 } })),
    /top_entropy_quantile/,
  );
});

test("combinations TRL warns on are warnings; settings that cannot work here are errors", () => {
  const warn = (overrides: Record<string, unknown>) =>
    resolveConfig({ preset: "trl", overrides }).warnings.join("\n");
  assert.match(warn({ loss_type: "luspo" }), /"luspo" with importance_sampling_level = "token"/);
  assert.doesNotMatch(warn({ loss_type: "luspo", importance_sampling_level: "sequence" }), /luspo/);
  assert.match(
    warn({ loss_type: "vespo", importance_sampling_level: "sequence" }),
    /VESPO forms its sequence-level/,
  );
  for (const lossType of ["bnpo", "dr_grpo", "dapo", "cispo"])
    assert.match(
      warn({ loss_type: lossType, importance_sampling_level: "sequence", epsilon_high: 5 }),
      new RegExp(`loss_type = "${lossType}": this loss sums per-token terms`),
    );
  assert.match(warn({ loss_type: "cispo" }), /epsilon_high = 0\.2 < 1/);
  assert.match(warn({ delta: 1.1 }), /delta \(1\.1\) <= 1 \+ epsilon_high/);
  assert.match(warn({ use_bias_correction_kl: true }), /no effect with beta = 0/);
  assert.match(warn({ off_policy_mask_threshold: 0.5 }), /num_iterations = 1.*no completion is ever masked/s);
  assert.match(
    configError(() =>
      resolveConfig({ preset: "tiny", overrides: { multi_objective_aggregation: "normalize_then_sum" } }),
    ),
    /"normalize_then_sum" with mode = "multi_turn".*Fix/s,
  );
  assert.match(
    configError(() => resolveConfig({ overrides: { use_adaptive_entropy: true } })),
    /use_adaptive_entropy = true.*not implemented here.*Fix/s,
  );
});

test("the tiny-consistent preset: consistent-word decoding, game credit with information, no warnings", () => {
  const { config, warnings } = resolveConfig({ preset: "tiny-consistent" });
  assert.deepEqual(warnings, []);
  assert.equal(config.multi_turn.constrain, "consistent");
  assert.equal(config.multi_turn.credit, "game");
  assert.equal(config.multi_turn.information, 1);
  assert.equal(config.temperature, 1);
  assert.equal(config.mode, "multi_turn");
  assert.equal(config.prompt_template, "tiny");
});
