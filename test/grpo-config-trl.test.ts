import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { configSchema, resolveConfig } from "../src/grpo/config/config.js";
import { settableKeys } from "../src/grpo/config/keys.js";
import { loadConfigFile } from "../src/grpo/config/load.js";
import {
  TRL_EQUIVALENT_KEYS,
  TRL_IGNORED_KEYS,
  TRL_NULL_MEANS_DEFAULT,
} from "../src/grpo/config/trl-keys.js";
import { configError } from "./helpers/config-error.js";
import { withTempDir } from "./helpers/temp-dir.js";

/**
 * TRL configs (docs/training.md, "TRL configs"): a TRL GRPOConfig in YAML, JSON or TOML resolves;
 * its keys that do nothing here warn once each and are dropped; typos stay errors.
 */

function loadError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail("expected an error");
}

/** The original plan's GRPOConfig, as a TRL user writes it. */
const PLAN_YAML = `# TRL GRPOConfig of the training plan
output_dir: runs/wordle-plan
per_device_train_batch_size: 2
num_generations: 2
max_completion_length: 128
gradient_checkpointing: true
num_train_epochs: 70
logging_steps: 10
eval_steps: 100
save_steps: 100
save_total_limit: 10
learning_rate: 5.0e-6
use_vllm: false
bf16: true
ds3_gather_for_generation: true
`;

const PLAN = {
  output_dir: "runs/wordle-plan",
  per_device_train_batch_size: 2,
  num_generations: 2,
  max_completion_length: 128,
  gradient_checkpointing: true,
  num_train_epochs: 70,
  logging_steps: 10,
  eval_steps: 100,
  save_steps: 100,
  save_total_limit: 10,
  learning_rate: 5e-6,
  use_vllm: false,
  bf16: true,
  ds3_gather_for_generation: true,
};

/** The warnings about one layer. */
const warningsOf = (warnings: readonly string[], label: string) =>
  warnings.filter((w) => w.startsWith(`${label}: `));

function assertPlanResolved(path: string): void {
  const { config, warnings } = resolveConfig({ file: path });
  assert.equal(config.output_dir, "runs/wordle-plan");
  assert.equal(config.per_device_train_batch_size, 2);
  assert.equal(config.num_generations, 2);
  assert.equal(config.max_completion_length, 128);
  assert.equal(config.gradient_checkpointing, true);
  assert.equal(config.num_train_epochs, 70);
  assert.equal(config.logging_steps, 10);
  assert.equal(config.eval_steps, 100);
  assert.equal(config.save_steps, 100);
  assert.equal(config.save_total_limit, 10);
  assert.equal(config.learning_rate, 5e-6);
  assert.equal(config.dtype, "auto", "bf16 does not change the precision");
  const own = warningsOf(warnings, `config file ${path}`);
  // bf16 = true warns on its own (dtype auto may still pick float32); use_vllm = false and
  // ds3_gather_for_generation = true are TRL's defaults and change nothing here: one line for both.
  assert.equal(own.length, 2, own.join("\n"));
  assert.match(own[0]!, /`bf16 = true` has no effect here and is ignored: precision is `dtype`/);
  assert.match(own[1]!, /ignored 2 TRL settings .*: use_vllm, ds3_gather_for_generation/);
}

test("a TRL GRPOConfig in YAML resolves, with a warning for what it asks that does nothing here", () => {
  withTempDir("grpo-config-trl", (dir) => {
    const path = join(dir, "plan.yaml");
    writeFileSync(path, PLAN_YAML);
    assertPlanResolved(path);
  });
});

test("the same GRPOConfig as JSON (and .yml, and TOML) resolves the same", () => {
  withTempDir("grpo-config-trl", (dir) => {
    const json = join(dir, "plan.json");
    writeFileSync(json, JSON.stringify(PLAN, null, 2));
    assertPlanResolved(json);
    const yml = join(dir, "plan.yml");
    writeFileSync(yml, PLAN_YAML);
    assertPlanResolved(yml);
    const toml = join(dir, "plan.toml");
    // Flat scalars: their JSON spelling is TOML too.
    writeFileSync(
      toml,
      Object.entries(PLAN)
        .map(([key, value]) => `${key} = ${JSON.stringify(value)}\n`)
        .join(""),
    );
    assertPlanResolved(toml);
    assert.deepEqual(resolveConfig({ file: json }).config, resolveConfig({ file: yml }).config);
  });
});

test("each no-effect key at a value someone chose gets one warning naming the layer, the value and why", () => {
  withTempDir("grpo-config-trl", (dir) => {
    const path = join(dir, "vllm.yaml");
    writeFileSync(
      path,
      "use_vllm: true\nvllm_gpu_memory_utilization: 0.5\nds3_gather_for_generation: false\n",
    );
    const { config, warnings } = resolveConfig({ file: path });
    const own = warningsOf(warnings, `config file ${path}`);
    assert.equal(own.length, 3, own.join("\n"));
    assert.match(own[0]!, /`use_vllm = true` has no effect here and is ignored: generation runs in-process/);
    assert.match(own[1]!, /`vllm_gpu_memory_utilization = 0.5` .*: generation runs in-process/);
    assert.match(
      own[2]!,
      /`ds3_gather_for_generation = false` .*: no DeepSpeed or FSDP: data parallelism is --nproc/,
    );
    assert.ok(!("use_vllm" in config), "the key is dropped");
  });
  const { warnings } = resolveConfig({ overrides: ["push_to_hub=true", "hub_model_id=me/wordle"] });
  assert.deepEqual(warningsOf(warnings, "overrides (--set / flags)"), [
    "overrides (--set / flags): `push_to_hub = true` has no effect here and is ignored: no Hub upload: the run stays in output_dir",
    'overrides (--set / flags): `hub_model_id = "me/wordle"` has no effect here and is ignored: no Hub upload: the run stays in output_dir',
  ]);
});

test("a typo is still an unknown key with a suggestion, among schema and TRL keys", () => {
  withTempDir("grpo-config-trl", (dir) => {
    const path = join(dir, "typo.yaml");
    writeFileSync(path, `${PLAN_YAML}learnig_rate: 1.0e-5\nuse_vlm: true\n`);
    const message = configError(() => resolveConfig({ file: path }));
    assert.match(
      message,
      new RegExp(`config file ${path}: unknown key \`learnig_rate\`\\. Did you mean \`learning_rate\`\\?`),
    );
    assert.match(message, /unknown key `use_vlm`\. Did you mean `use_vllm`\?/);
  });
  // A TRL key is known at the top level only: nested, it is as unknown as any other.
  assert.match(
    configError(() => resolveConfig({ overrides: ["lora.use_vllm=true"] })),
    /unknown key `use_vllm` in `lora`/,
  );
});

test("a YAML parse error names the file and the line", () => {
  withTempDir("grpo-config-trl", (dir) => {
    const cases: Array<[string, RegExp]> = [
      ["learning_rate: 1.0e-6\nlora:\n  r: [8, 16\nbeta: 0.0\n", /line 4, column 1/],
      ["learning_rate: 1.0e-6\nbeta: 0.0\nbeta: 0.04\n", /Map keys must be unique at line 3, column 1/],
      ["learning_rate: 1.0e-6\n\tbeta: 0.0\n", /line 2/],
    ];
    for (const [text, where] of cases) {
      const path = join(dir, "bad.yaml");
      writeFileSync(path, text);
      const message = loadError(() => loadConfigFile(path));
      assert.ok(message.startsWith(`config file ${path}: not valid YAML: `), message);
      assert.match(message, where);
      assert.ok(!message.includes("\n"), "one line");
    }
  });
});

test("YAML files: comments only hold no settings; a top-level list is refused; other extensions try YAML too", () => {
  withTempDir("grpo-config-trl", (dir) => {
    const empty = join(dir, "empty.yaml");
    writeFileSync(empty, "# nothing set yet\n");
    assert.deepEqual(loadConfigFile(empty), {});
    const list = join(dir, "list.yaml");
    writeFileSync(list, "- learning_rate\n- beta\n");
    assert.match(
      loadError(() => loadConfigFile(list)),
      /not valid YAML: expected a table\/object of settings/,
    );
    const noExtension = join(dir, "grpo.cfg");
    writeFileSync(noExtension, "learning_rate: 2.0e-6\nlora:\n  r: 8\n");
    assert.deepEqual(loadConfigFile(noExtension), { learning_rate: 2e-6, lora: { r: 8 } });
    writeFileSync(noExtension, "learning_rate: [\n");
    assert.match(
      loadError(() => loadConfigFile(noExtension)),
      /not valid JSON: .*; not valid TOML: .*; not valid YAML: .*line/,
    );
  });
});

test("TRL keys with an exact equivalent here are renamed; a clash in one layer is an error", () => {
  const { config, warnings } = resolveConfig({
    overrides: { use_cpu: true, token_entropy_percentile_threshold: 0.8, per_gpu_train_batch_size: 16 },
  });
  assert.equal(config.device, "cpu");
  assert.equal(config.top_entropy_quantile, 0.2);
  assert.equal(config.per_device_train_batch_size, 16);
  assert.deepEqual(warningsOf(warnings, "overrides (--set / flags)"), []);
  // false asks for what happens here anyway: no device is forced.
  assert.equal(resolveConfig({ overrides: { use_cpu: false, no_cuda: false } }).config.device, "auto");
  assert.match(
    configError(() => resolveConfig({ overrides: { use_cpu: true, device: "cuda" } })),
    /`use_cpu = true` means `device = "cpu"` here, but the same layer sets `device = "cuda"`: keep one/,
  );
  // In separate layers the later one wins, as for any key.
  withTempDir("grpo-config-trl", (dir) => {
    const path = join(dir, "cpu.yaml");
    writeFileSync(path, "use_cpu: true\n");
    assert.equal(resolveConfig({ file: path, overrides: ["device=cuda"] }).config.device, "cuda");
  });
});

test("a TRL null that means 'the trainer decides' takes the default here", () => {
  const { config } = resolveConfig({
    overrides: {
      ddp_backend: null,
      warmup_ratio: null,
      output_dir: null,
      metric_for_best_model: null,
      greater_is_better: null,
    },
  });
  const defaults = resolveConfig().config;
  for (const key of TRL_NULL_MEANS_DEFAULT) {
    assert.deepEqual(config[key as keyof typeof config], defaults[key as keyof typeof defaults], key);
  }
  // Elsewhere null stays an error.
  assert.match(
    configError(() => resolveConfig({ overrides: { learning_rate: null } })),
    /learning_rate/,
  );
});

test("a complete dump of TRL defaults loads with one summary line", () => {
  const dump: Record<string, unknown> = {};
  for (const [key, entry] of TRL_IGNORED_KEYS)
    if (entry.sameAsHere.length > 0) dump[key] = entry.sameAsHere[0];
  const { warnings } = resolveConfig({ overrides: dump });
  const own = warningsOf(warnings, "overrides (--set / flags)");
  assert.equal(own.length, 1, own.join("\n"));
  assert.match(
    own[0]!,
    new RegExp(`ignored ${Object.keys(dump).length} TRL settings .*: use_vllm, .* and \\d+ more`),
  );
});

test("the table: no key of it is a key here, equivalents point at keys here, the nulls are needed", () => {
  const keysHere = new Set(settableKeys(configSchema));
  for (const key of TRL_IGNORED_KEYS.keys())
    assert.ok(!keysHere.has(key), `${key} is a key here and in trl-keys.ts`);
  for (const [key, { to }] of TRL_EQUIVALENT_KEYS) {
    assert.ok(!keysHere.has(key), `${key} is a key here`);
    assert.ok(keysHere.has(to), `${key} maps to ${to}, which is not a key here`);
  }
  for (const key of TRL_NULL_MEANS_DEFAULT) {
    assert.ok(keysHere.has(key), key);
    assert.equal(
      configSchema.safeParse({ [key]: null }).success,
      false,
      `${key} accepts null: no entry needed`,
    );
  }
  for (const [key, { reason }] of TRL_IGNORED_KEYS)
    assert.ok(reason.length > 0 && !reason.includes("\n"), key);
});

/**
 * The field names of TRL's GRPOConfig (current and older versions) and of transformers'
 * TrainingArguments (4.x and 5.x): every one is a key here, an equivalent, or in the table.
 */
const TRL_FIELD_NAMES = `
adafactor adam_beta1 adam_beta2 adam_epsilon accelerator_config auto_find_batch_size
average_tokens_across_devices batch_eval_metrics beta bf16 bf16_full_eval cache_implementation
cast_lm_head_to_fp32 chat_template_kwargs data_seed dataloader_drop_last dataloader_num_workers
dataloader_persistent_workers dataloader_pin_memory dataloader_prefetch_factor ddp_backend
ddp_broadcast_buffers ddp_bucket_cap_mb ddp_find_unused_parameters ddp_timeout debug deepspeed delta
disable_dropout disable_tqdm dispatch_batches do_eval do_predict do_train ds3_gather_for_generation
enable_jit_checkpoint entropy_coef entropy_coef_delta entropy_coef_max entropy_coef_min entropy_target
epsilon epsilon_high eval_accumulation_steps eval_delay eval_do_concat_batches eval_on_start eval_steps
eval_strategy eval_use_gather_object evaluation_strategy fp16 fp16_backend fp16_full_eval
fp16_opt_level fsdp fsdp_config fsdp_min_num_params fsdp_transformer_layer_cls_to_wrap full_determinism
generation_batch_size generation_kwargs gradient_accumulation_steps gradient_checkpointing
gradient_checkpointing_kwargs greater_is_better group_by_length half_precision_backend hub_always_push
hub_model_id hub_private_repo hub_revision hub_strategy hub_token ignore_data_skip
importance_sampling_level include_for_metrics include_inputs_for_metrics include_num_input_tokens_seen
include_tokens_per_second jit_mode_eval label_names label_smoothing_factor learning_rate
length_column_name liger_kernel_config load_best_model_at_end local_rank log_completions
log_completions_hub_repo log_level log_level_replica log_multimodal log_on_each_node
log_unique_prompts logging_first_step logging_nan_inf_filter logging_steps logging_strategy
loss_type lr_scheduler_kwargs lr_scheduler_type mask_truncated_completions max_completion_length
max_grad_norm max_prompt_length max_steps max_tool_calling_iterations metric_for_best_model min_p
model_init_kwargs mp_parameters multi_objective_aggregation neftune_noise_alpha no_cuda
num_completions_to_print num_generations num_generations_eval num_iterations num_train_epochs
off_policy_mask_threshold optim optim_args optim_target_modules output_dir overwrite_output_dir
pad_to_multiple_of parallelism_config past_index per_device_eval_batch_size
per_device_train_batch_size per_gpu_eval_batch_size per_gpu_train_batch_size prediction_loss_only
project push_to_hub push_to_hub_model_id report_to logging_dir push_to_hub_organization push_to_hub_token ray_scope
ref_model_mixup_alpha ref_model_sync_steps remove_unused_columns repetition_penalty
restore_callback_states_from_checkpoint resume_from_checkpoint reward_weights router_aux_loss_coef
run_name sapo_temperature_neg sapo_temperature_pos save_on_each_node save_only_model save_safetensors
save_steps save_strategy save_total_limit scale_rewards seed sharded_ddp shuffle_dataset
skip_memory_metrics split_batches steps_per_generation sync_ref_model temperature tf32
token_entropy_percentile_threshold top_entropy_quantile top_k top_p torch_compile
torch_compile_backend torch_compile_mode torch_empty_cache_steps torchdynamo tp_size tpu_metrics_debug
tpu_num_cores trackio_space_id train_sampling_strategy transformers_continuous_batching_config
trust_remote_code use_adaptive_entropy use_bias_correction_kl use_cache use_cpu use_ipex
use_legacy_prediction_loop use_liger_kernel use_liger_loss use_mps_device
use_transformers_continuous_batching use_transformers_paged use_vllm vespo_k_neg vespo_k_pos
vespo_lambda_neg vespo_lambda_pos vllm_device vllm_dtype vllm_enable_prefix_caching
vllm_enable_sleep_mode vllm_gpu_memory_utilization vllm_group_port vllm_guided_decoding_regex
vllm_importance_sampling_cap vllm_importance_sampling_clip_max vllm_importance_sampling_clip_min
vllm_importance_sampling_correction vllm_importance_sampling_mode vllm_max_model_len
vllm_max_model_length vllm_mode vllm_model_impl vllm_server_base_url vllm_server_host
vllm_server_port vllm_server_timeout vllm_structured_outputs_regex vllm_tensor_parallel_size
wandb_log_unique_prompts warmup_ratio warmup_steps weight_decay
`
  .trim()
  .split(/\s+/);

/** Trackers are another change's (report_to, logging_dir in schema.ts); until it lands they are unknown. */
const CLASSIFIED_ELSEWHERE = new Set(["report_to", "logging_dir"]);

test("every TRL GRPOConfig / TrainingArguments field is classified", () => {
  const keysHere = new Set(settableKeys(configSchema));
  const unclassified = TRL_FIELD_NAMES.filter(
    (key) =>
      !keysHere.has(key) &&
      !TRL_EQUIVALENT_KEYS.has(key) &&
      !TRL_IGNORED_KEYS.has(key) &&
      !CLASSIFIED_ELSEWHERE.has(key),
  );
  assert.deepEqual(unclassified, []);
});
