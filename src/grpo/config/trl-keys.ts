/**
 * TRL `GRPOConfig` and HF `TrainingArguments` keys that this project does not define, so that a TRL
 * config file loads (docs/training.md, "TRL configs"). Every TRL key falls in one of four classes:
 *
 * - defined by the schema (schema.ts) under TRL's name: used as is, never looked up here;
 * - an exact equivalent under another name (`TRL_EQUIVALENT_KEYS`): renamed when the layer is read;
 * - no effect here (`TRL_IGNORED_KEYS`): dropped with a warning that says why;
 * - a schema key whose TRL `null` means "the trainer's default" (`TRL_NULL_MEANS_DEFAULT`): the null
 *   is dropped, so this project's default applies, as TRL's would there.
 *
 * Anything else stays an unknown-key error with a suggestion. The key lists follow TRL's and
 * transformers' field lists, current and older (a config saved by an older TRL still loads).
 */

export interface TrlIgnoredKey {
  /** Why the key does nothing here, for the warning. */
  reason: string;
  /**
   * Values under which TRL would do what this project does anyway (for most keys TRL's own
   * defaults, across versions). A layer holding one is named in one summary line instead of a
   * warning of its own, so that a complete dump of a TRL config does not bury the settings that
   * someone chose. Empty where even TRL's default asks for something else here (`bf16`).
   */
  sameAsHere: readonly unknown[];
}

/** Keys grouped by the reason they do nothing here; each key with its `sameAsHere` values. */
const IGNORED_GROUPS: ReadonlyArray<{ reason: string; keys: Record<string, readonly unknown[]> }> = [
  {
    reason: "generation runs in-process on the engine's own sampler (no vLLM, no transformers generate())",
    keys: {
      use_vllm: [false],
      vllm_mode: ["colocate", "server"],
      vllm_model_impl: ["vllm"],
      vllm_enable_sleep_mode: [false],
      vllm_structured_outputs_regex: [null],
      vllm_guided_decoding_regex: [null],
      vllm_server_base_url: [null],
      vllm_server_host: ["0.0.0.0"],
      vllm_server_port: [8000],
      vllm_server_timeout: [240, 120],
      vllm_group_port: [51216],
      vllm_gpu_memory_utilization: [0.3, 0.9, null],
      vllm_max_model_length: [null],
      vllm_max_model_len: [null],
      vllm_tensor_parallel_size: [1],
      vllm_device: ["auto", null],
      vllm_dtype: ["auto", null],
      vllm_enable_prefix_caching: [true, null],
      use_transformers_continuous_batching: [false],
      transformers_continuous_batching_config: [null],
      use_transformers_paged: [false],
      cache_implementation: [null],
    },
  },
  {
    reason:
      "the sampler and the trainer are one engine, so there is no generation/training mismatch to correct",
    keys: {
      // true only corrects a mismatch when there is one; false asks for no correction: both as here.
      vllm_importance_sampling_correction: [true, false],
      vllm_importance_sampling_mode: ["sequence_mask"],
      vllm_importance_sampling_clip_max: [3],
      vllm_importance_sampling_clip_min: [null],
      vllm_importance_sampling_cap: [null, 2, 3],
    },
  },
  {
    reason: "sampling takes temperature, top_p, top_k, min_p and repetition_penalty only",
    keys: { generation_kwargs: [null, {}] },
  },
  {
    reason:
      "a step generates once, per_device_train_batch_size × gradient_accumulation_steps completions, and trains on them",
    keys: { generation_batch_size: [null], steps_per_generation: [null] },
  },
  {
    reason: "no tool calls: a Wordle turn is one guess",
    keys: { max_tool_calling_iterations: [null] },
  },
  {
    reason: "no DeepSpeed or FSDP: data parallelism is --nproc / torchrun (docs/distributed.md)",
    keys: {
      ds3_gather_for_generation: [true],
      deepspeed: [null],
      fsdp: [null, "", []],
      fsdp_config: [null],
      fsdp_min_num_params: [0],
      fsdp_transformer_layer_cls_to_wrap: [null],
      sharded_ddp: [null, "", []],
      tp_size: [0, 1],
      parallelism_config: [null],
      mp_parameters: [""],
    },
  },
  {
    reason: "no Accelerate: the ranks are started by --nproc or torchrun (docs/distributed.md)",
    keys: { accelerator_config: [null], dispatch_batches: [null], split_batches: [null, false] },
  },
  {
    reason:
      "the LoRA gradients are summed by the engine's own collectives, not torch DDP (docs/distributed.md)",
    keys: { ddp_find_unused_parameters: [null], ddp_bucket_cap_mb: [null], ddp_broadcast_buffers: [null] },
  },
  {
    reason: "a rank reads RANK and LOCAL_RANK from its launcher's environment (docs/distributed.md)",
    keys: { local_rank: [-1] },
  },
  {
    reason:
      "a step's loss and gradient are the one-process step's on any number of ranks (docs/distributed.md)",
    keys: { average_tokens_across_devices: [true] },
  },
  {
    reason:
      'precision is `dtype` (auto: bfloat16 on CUDA and AVX-512 CPUs, else float32; LoRA weights are float32); set dtype = "bfloat16" for bf16',
    keys: {
      // No sameAsHere: TRL's default (true) may still differ, as `dtype` auto picks float32 on most CPUs.
      bf16: [],
      fp16: [false],
      tf32: [null],
      bf16_full_eval: [false],
      fp16_full_eval: [false],
      half_precision_backend: ["auto"],
      fp16_backend: ["auto"],
      fp16_opt_level: ["O1"],
      cast_lm_head_to_fp32: [false],
    },
  },
  {
    reason: "the model runs on the engine's own libtorch ops (no torch.compile, Liger, IPEX or XLA)",
    keys: {
      torch_compile: [false],
      torch_compile_backend: [null],
      torch_compile_mode: [null],
      torchdynamo: [null],
      use_liger_kernel: [false],
      liger_kernel_config: [null],
      use_liger_loss: [false, null],
      use_ipex: [false],
      jit_mode_eval: [false],
      tpu_num_cores: [null],
      tpu_metrics_debug: [false],
      debug: ["", []],
    },
  },
  {
    reason: "training forwards keep no KV cache here, and there is no periodic empty_cache()",
    keys: { use_cache: [false], torch_empty_cache_steps: [null] },
  },
  {
    reason: "batch sizes are what the config says; `wordle-grpo plan` estimates the memory before a run",
    keys: { auto_find_batch_size: [false] },
  },
  {
    reason:
      "the engine loads `model` (a local Hugging Face directory) itself: Qwen2 and Llama, no custom model code",
    keys: { model_init_kwargs: [null], trust_remote_code: [false] },
  },
  {
    reason: "no Mixture-of-Experts models here (Qwen2 and Llama)",
    keys: { router_aux_loss_coef: [0.001] },
  },
  {
    reason: "the only dropout here is LoRA's: lora.dropout = 0 has the same effect",
    keys: { disable_dropout: [false] },
  },
  {
    reason:
      "the model's chat template is applied with no extra arguments; `prompt_template` chooses the prompt",
    keys: { chat_template_kwargs: [null, {}] },
  },
  {
    reason: "no dataset or DataLoader: the prompts are built in-process from the Wordle word lists",
    keys: {
      remove_unused_columns: [false, true],
      label_names: [null],
      train_sampling_strategy: ["random"],
      group_by_length: [false],
      length_column_name: ["length"],
      dataloader_drop_last: [false],
      dataloader_num_workers: [0],
      dataloader_pin_memory: [true],
      dataloader_persistent_workers: [false],
      dataloader_prefetch_factor: [null],
      pad_to_multiple_of: [null],
      past_index: [-1],
    },
  },
  {
    reason: "the prompts are reshuffled every epoch by a generator seeded from `seed`",
    keys: { shuffle_dataset: [true], data_seed: [null] },
  },
  {
    reason: "a resume restores the data order exactly; nothing is skipped or replayed",
    keys: { ignore_data_skip: [false] },
  },
  {
    reason: "the reward functions come from `reward.preset`; weight them by name with `reward.weights`",
    keys: { reward_weights: [null] },
  },
  {
    reason:
      "the reference policy is the base model with the adapter off (used when beta > 0); it is never synced",
    keys: { sync_ref_model: [false], ref_model_mixup_alpha: [0.6, 0.9], ref_model_sync_steps: [512, 64] },
  },
  {
    reason: "the GRPO loss has no labels to smooth",
    keys: { label_smoothing_factor: [0] },
  },
  {
    reason: "evaluation plays held-out Wordle games (`eval.*`, docs/evaluation.md), not HF's evaluation loop",
    keys: {
      num_generations_eval: [null],
      per_device_eval_batch_size: [8],
      per_gpu_eval_batch_size: [null],
      eval_accumulation_steps: [null],
      eval_do_concat_batches: [true],
      eval_use_gather_object: [false],
      prediction_loss_only: [false],
      include_for_metrics: [[]],
      include_inputs_for_metrics: [false],
      batch_eval_metrics: [false],
      use_legacy_prediction_loop: [false],
    },
  },
  {
    reason: "evaluation runs every `eval_steps` steps, or only after the last step when eval_steps is null",
    keys: {
      // Always warned: "steps" is as here only with eval_steps set (TRL then falls back to logging_steps).
      eval_strategy: [],
      evaluation_strategy: [],
      eval_delay: [0],
      eval_on_start: [false],
    },
  },
  {
    reason: "the best adapter is written to best/ when it is found; final/ holds the last step's",
    keys: { load_best_model_at_end: [false] },
  },
  {
    reason: "a metrics row is logged every `logging_steps` steps and after the last",
    keys: { logging_strategy: ["steps"], logging_first_step: [false] },
  },
  {
    reason: "a non-finite loss skips the update and is counted in the log; three in a row stop the run",
    keys: { logging_nan_inf_filter: [true] },
  },
  {
    reason: "console output is the CLI's: rank 0 prints progress, the other ranks only errors",
    keys: {
      log_level: ["passive"],
      log_level_replica: ["warning", "passive"],
      log_on_each_node: [true],
      disable_tqdm: [null, false],
    },
  },
  {
    reason: "the logged metrics are fixed (docs/run-files.md)",
    keys: {
      include_num_input_tokens_seen: ["no", false],
      include_tokens_per_second: [false],
      skip_memory_metrics: [true],
    },
  },
  {
    reason: "sample completions go to samples.jsonl every logging step (docs/run-files.md)",
    keys: {
      log_completions: [false, true],
      num_completions_to_print: [null],
      log_unique_prompts: [false],
      wandb_log_unique_prompts: [false, null],
      log_multimodal: [true],
    },
  },
  {
    reason: "no Trackio: `project` and `trackio_space_id` only name a Trackio project and Space",
    keys: { project: ["huggingface"], trackio_space_id: ["trackio", null] },
  },
  {
    reason: "no Hub upload: the run stays in output_dir",
    keys: {
      push_to_hub: [false],
      hub_model_id: [null],
      hub_token: [null],
      hub_private_repo: [null, false],
      hub_strategy: ["every_save"],
      hub_always_push: [false],
      hub_revision: [null],
      push_to_hub_model_id: [null],
      push_to_hub_organization: [null],
      push_to_hub_token: [null],
      log_completions_hub_repo: [null],
    },
  },
  {
    reason: "no hyperparameter search (Ray Tune)",
    keys: { ray_scope: ["last"] },
  },
  {
    reason: "checkpoints are saved every `save_steps` steps and after the last",
    keys: { save_strategy: ["steps"] },
  },
  {
    reason: "a checkpoint always holds the optimizer, data order and RNG states, so a resume is exact",
    keys: { save_only_model: [false], restore_callback_states_from_checkpoint: [false] },
  },
  {
    reason: "adapters are always written as safetensors (PEFT's format)",
    keys: { save_safetensors: [true] },
  },
  {
    reason: "rank 0 writes the run directory, which every rank must be able to read (docs/distributed.md)",
    keys: { save_on_each_node: [false] },
  },
  {
    // Both values as here: a stop signal always finishes the step and saves.
    reason: "SIGTERM and Ctrl-C already finish the step and save a checkpoint",
    keys: { enable_jit_checkpoint: [false, true] },
  },
  {
    reason: "`train` refuses an --output that holds a run; continue one with --resume",
    keys: { overwrite_output_dir: [false] },
  },
  {
    reason: "resume with `wordle-grpo train --resume [latest|STEP|PATH]`",
    keys: { resume_from_checkpoint: [null] },
  },
  {
    reason: "flags for HF's example scripts: `wordle-grpo train` trains, and evaluates as `eval_steps` says",
    keys: { do_train: [false, true], do_eval: [false, true], do_predict: [false] },
  },
  {
    // Both values as here: the numbers depend only on the seed, the thread count and the ranks.
    reason: 'a run is always reproducible from `seed` (docs/training.md, "Checkpoints and exact resume")',
    keys: { full_determinism: [false, true] },
  },
  {
    reason:
      "the learning-rate schedules here (linear, cosine, constant, constant_with_warmup) take no arguments",
    keys: { lr_scheduler_kwargs: [null, {}] },
  },
  {
    reason: "the optimizer's settings are weight_decay, adam_beta1, adam_beta2, adam_epsilon and momentum",
    keys: { optim_args: [null], adafactor: [false] },
  },
  {
    reason: "no GaLore or APOLLO optimizers; the adapted modules are lora.target_modules",
    keys: { optim_target_modules: [null] },
  },
  {
    reason: "gradient checkpointing takes no options here",
    keys: { gradient_checkpointing_kwargs: [null, {}] },
  },
  {
    reason: "no NEFTune embedding noise",
    keys: { neftune_noise_alpha: [null] },
  },
];

function buildIgnoredKeys(): ReadonlyMap<string, TrlIgnoredKey> {
  const table = new Map<string, TrlIgnoredKey>();
  for (const { reason, keys } of IGNORED_GROUPS) {
    for (const [key, sameAsHere] of Object.entries(keys)) {
      // A key in two groups would get whichever reason came last: a mistake in this file.
      if (table.has(key)) throw new Error(`trl-keys.ts: ${key} is listed twice`);
      table.set(key, { reason, sameAsHere });
    }
  }
  return table;
}

/** TRL keys with no effect here, each with its reason. */
export const TRL_IGNORED_KEYS: ReadonlyMap<string, TrlIgnoredKey> = buildIgnoredKeys();

export interface TrlEquivalentKey {
  /** The key here. */
  to: string;
  /** The value here; undefined when the TRL value asks for what happens here anyway. */
  convert: (value: unknown) => unknown;
}

/** `true` means this device; `false` leaves the choice to `device` ("auto" by default). */
const deviceWhenTrue =
  (device: string) =>
  (value: unknown): unknown =>
    value === false || value === null ? undefined : value === true ? device : value;

/** Deprecated TRL/HF names whose meaning is exactly one key here. */
export const TRL_EQUIVALENT_KEYS: ReadonlyMap<string, TrlEquivalentKey> = new Map([
  ["use_cpu", { to: "device", convert: deviceWhenTrue("cpu") }],
  ["no_cuda", { to: "device", convert: deviceWhenTrue("cpu") }],
  ["use_mps_device", { to: "device", convert: deviceWhenTrue("mps") }],
  [
    // TRL's name before `top_entropy_quantile`: masked the tokens below this entropy quantile, so it
    // kept the top 1 - threshold (TRL's own tests turned 0.8 into 0.2 when renaming it).
    "token_entropy_percentile_threshold",
    {
      to: "top_entropy_quantile",
      convert: (value) => (typeof value === "number" ? Number((1 - value).toPrecision(12)) : value),
    },
  ],
  [
    // HF's old name; when set it overrode per_device_train_batch_size.
    "per_gpu_train_batch_size",
    { to: "per_device_train_batch_size", convert: (value) => (value === null ? undefined : value) },
  ],
]);

/**
 * Schema keys that refuse null here but whose TRL default is null, meaning "the trainer decides":
 * ddp_backend (nccl on CUDA, gloo on the CPU, our "auto"), warmup_ratio (transformers 5: none),
 * output_dir ("trainer_output" there), metric_for_best_model and greater_is_better (derived there).
 */
export const TRL_NULL_MEANS_DEFAULT: ReadonlySet<string> = new Set([
  "ddp_backend",
  "warmup_ratio",
  "output_dir",
  "metric_for_best_model",
  "greater_is_better",
]);
