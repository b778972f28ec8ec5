/**
 * Public API of the wordle-grpo package. Each area re-exports its own surface here.
 */

export type { DemoRunOptions } from "./dashboard/demo-run.js";
export { DemoRun, writeDemoRun } from "./dashboard/demo-run.js";
export type { DashboardOptions, DashboardServer } from "./dashboard/server.js";
export { startDashboard } from "./dashboard/server.js";
// The tensor engine (libtorch): `engine.tensor(...)`, `engine.scope(...)`, optimisers, ...
export * as engine from "./engine/index.js";
export { Tensor } from "./engine/index.js";
export type {
  SafetensorsContents,
  SafetensorsFile,
  SafetensorsTensor,
  SafetensorsTensorInfo,
  SafetensorsWriteEntry,
} from "./engine/safetensors.js";
export {
  openSafetensors,
  readSafetensors,
  SafetensorsError,
  writeSafetensors,
} from "./engine/safetensors.js";
export type { SafetensorsDtype } from "./engine/safetensors-dtypes.js";
export { dtypeByteSize, SAFETENSORS_DTYPES } from "./engine/safetensors-dtypes.js";
export type { TensorValues } from "./engine/safetensors-values.js";
export {
  bf16BytesToFloat32,
  f16BytesToFloat32,
  float32ToBf16Bytes,
  float32ToF16Bytes,
  tensorValues,
  typedArrayBytes,
} from "./engine/safetensors-values.js";
export type { EvalSummary } from "./eval/aggregate.js";
export { summarizeGames } from "./eval/aggregate.js";
export type { BaselineOptions, BaselineResult } from "./eval/baselines.js";
export { REFERENCE_FIGURES, referenceLine, solverBaselines } from "./eval/baselines.js";
export type { EvaluateOptions, EvaluationReport, SetReport } from "./eval/evaluate.js";
export { evaluate as evaluatePolicy } from "./eval/evaluate.js";
export type { EvalGameLine, TableRow } from "./eval/format.js";
export {
  evalGameLines,
  evalMetrics,
  formatEvalTable,
  formatReport as formatEvalReport,
  reportJson as evalReportJson,
} from "./eval/format.js";
export type { GameResult, GuessRecord, InvalidGuessKind } from "./eval/game-record.js";
export type { LoadedPolicy as LoadedEvalPolicy, PolicySettings } from "./eval/load-policy.js";
export { loadPolicy as loadEvalPolicy, shippedModelDir } from "./eval/load-policy.js";
export type { ModelPolicy, ModelPolicyOptions } from "./eval/model-policy.js";
export { modelPolicy } from "./eval/model-policy.js";
export type { PlayGamesOptions, PlayGamesResult, TurnEvent } from "./eval/play-games.js";
export { playGames } from "./eval/play-games.js";
export type { GuessPolicy, PolicyMove, PolicyState } from "./eval/policy.js";
export type { EvalSet, HeldOutOptions } from "./eval/secrets.js";
export {
  FROST,
  HELD_OUT_RESERVE,
  HELD_OUT_SEED,
  heldOutSecrets,
  reservedSecrets,
  resolveEvalSet,
  trainingSecrets,
} from "./eval/secrets.js";
export type { SolverPolicyOptions } from "./eval/solver-policy.js";
export { solverPolicy } from "./eval/solver-policy.js";
export { renderTiles } from "./eval/tiles.js";
export type {
  GrpoConfig,
  GrpoConfigInput,
  LossType,
  ResolvedConfig,
  ResolveOptions,
  ScaleRewards,
} from "./grpo/config/config.js";
export { ConfigError, parseConfig, resolveConfig, validateConfig } from "./grpo/config/config.js";
export type { Preset, PresetName } from "./grpo/config/presets.js";
export { getPreset, PRESET_NAMES, PRESETS } from "./grpo/config/presets.js";
export { readRunConfig, writeRunConfig } from "./grpo/config/run-config.js";
export { temperatureAt } from "./grpo/config/temperature.js";
export type { DataOrderState } from "./grpo/data-order.js";
export { DataOrder } from "./grpo/data-order.js";
export type { ModelShape, PlanOptions, RunPlan } from "./grpo/plan.js";
export { formatPlan, loraParameterCount, planRun } from "./grpo/plan.js";
export type {
  GameReturnWeights,
  MultiTurnBatch,
  MultiTurnOptions,
} from "./grpo/rollout/multi-turn-rollout.js";
export { DEFAULT_GAME_RETURN, gameReturn, multiTurnRollout } from "./grpo/rollout/multi-turn-rollout.js";
export type { GenerationBatch, PreparedPrompt, RolloutCompletion } from "./grpo/rollout/rollout.js";
export { rollout } from "./grpo/rollout/rollout.js";
export { stepsPerEpoch, totalSteps } from "./grpo/run-length.js";
export { learningRateAt, learningRateFactor, warmupSteps } from "./grpo/schedule.js";
export type { Advantages, GroupStats } from "./grpo/step/advantages.js";
export { computeAdvantages } from "./grpo/step/advantages.js";
export type { GrpoLossInputs, GrpoLossMetrics, GrpoLossResult, GrpoLossSettings } from "./grpo/step/loss.js";
export { grpoLoss } from "./grpo/step/loss.js";
export type { StopReason, TrainOptions, TrainResult } from "./grpo/trainer.js";
// The GRPO trainer: `train({ config })`, resume, schedules, data order.
export { MAX_CONSECUTIVE_NONFINITE, train } from "./grpo/trainer.js";
export type { TrainerEvents } from "./grpo/trainer-console.js";
export { consoleEvents, silentEvents } from "./grpo/trainer-console.js";
export type { ChatMessage, ChatTemplateOptions } from "./model/chat-template.js";
export {
  applyChatTemplate,
  applyChatTemplateIds,
  ChatTemplateError,
  renderChatTemplate,
} from "./model/chat-template.js";
export type { ForwardBackwardOptions, ForwardBackwardResult } from "./model/checkpointing.js";
export { forwardBackward } from "./model/checkpointing.js";
export type {
  ConfigDtype,
  ModelArchitecture,
  ModelConfig,
  ModelType,
  RopeScaling,
} from "./model/hf-config.js";
export { HfConfigError, loadHfConfig, parseHfConfig, ropeInverseFrequencies } from "./model/hf-config.js";
export type { KVCacheOptions } from "./model/kv-cache.js";
export { KVCache } from "./model/kv-cache.js";
export type { LoadModelOptions, LogitsOptions, LogitsResult } from "./model/load.js";
export {
  initLora,
  loadLora,
  loadModel,
  Model,
  saveLora,
  saveMerged,
  withAdapterDisabled,
} from "./model/load.js";
export type { SamplingSettings } from "./model/logits-processors.js";
export {
  applyMinP,
  applyRepetitionPenalty,
  applyTemperature,
  applyTopK,
  applyTopP,
  processLogits,
  topKCandidates,
  validateSamplingSettings,
} from "./model/logits-processors.js";
export type { SequenceLogProbOptions, TokenLogProbOptions, TokenLogProbs } from "./model/logprobs.js";
export { sequenceLogProbs, tokenLogProbs } from "./model/logprobs.js";
export type { LayerLora, LoraPair, LoraSettings, LoraTarget } from "./model/lora.js";
export { DEFAULT_LORA_SETTINGS, LORA_TARGETS, LoraAdapter, loraScale } from "./model/lora.js";
export { adapterConfigJson, LoraFormatError, parseAdapterConfig } from "./model/lora-peft.js";
export { pickNextTokens } from "./model/next-token.js";
export type { Completion, GenerateOptions, GenerationModel, GenerationTokenizer } from "./model/sampler.js";
export { generate } from "./model/sampler.js";
export type { StopReason as GenerationStopReason, TokenDecoder } from "./model/stop-criteria.js";
export { StopCriteria } from "./model/stop-criteria.js";
export type { DecodeOptions, EncodeOptions, SpecialToken } from "./model/tokenizer.js";
export { loadTokenizer, Tokenizer, TokenizerError } from "./model/tokenizer.js";
export type { CharTokenizerOptions } from "./model/tokenizer-char.js";
export { buildCharTokenizerJson } from "./model/tokenizer-char.js";
export type { BlockContext, ForwardOptions, ModelLoadOptions } from "./model/transformer.js";
export { CausalLM, positionIdsFromMask } from "./model/transformer.js";
export type { ModelWeights } from "./model/weights.js";
export { loadWeights, WeightsError } from "./model/weights.js";
export type { BestState, CheckpointInfo } from "./run/checkpoints.js";
export {
  applyRetention,
  BestTracker,
  findCheckpoint,
  latestCheckpoint,
  listCheckpoints,
  saveCheckpoint,
} from "./run/checkpoints.js";
export { evaluate, parseExpression } from "./run/expression.js";
export { JsonlWriter, readJsonl, truncateJsonlAfterStep } from "./run/jsonl.js";
export type { EvalGameRow, SampleRow } from "./run/logs.js";
export { RunLogs } from "./run/logs.js";
export { metricAliases } from "./run/metric-names.js";
export type { CriterionStatus, MilestoneStatus, MonitorFields, MonitorOptions } from "./run/monitor.js";
export { Monitor } from "./run/monitor.js";
export type { RunPaths } from "./run/run-dir.js";
export { openRunDirectory, runPaths } from "./run/run-dir.js";
export { gameSequence, SequenceBuilder } from "./sft/game-sequence.js";
export { saveModelDir, tinyModelConfigJson } from "./sft/model-files.js";
export type { TeacherName, TeacherTurn, TeacherWeight } from "./sft/teacher.js";
export { parseTeacherSpec, TEACHER_NAMES, TeacherGames } from "./sft/teacher.js";
export { buildTinyTokenizerFiles, TINY_CHAT_TEMPLATE } from "./sft/tiny-tokenizer.js";
export type { SftLogRow, SftResult, SftRunOptions, SftSettings } from "./sft/trainer.js";
// Supervised training of the tiny model (`wordle-grpo sft`) and multi-turn GRPO rollouts.
export { DEFAULT_SFT_SETTINGS, runSft } from "./sft/trainer.js";
export { parseCsv } from "./task/csv.js";
export { loadCourseDictionary } from "./task/dictionaries.js";
export type { GenerateStatesOptions, StatePolicy } from "./task/generate-states.js";
export { generateStates, STATE_POLICIES } from "./task/generate-states.js";
export { normalizedInfoGain } from "./task/info-gain.js";
export type { LetterKnowledge } from "./task/knowledge.js";
export { letterKnowledge } from "./task/knowledge.js";
export type { BehaviourRates, CompletionBehaviour } from "./task/metrics.js";
export { aggregateBehaviour, behaviourMetrics, completionBehaviour } from "./task/metrics.js";
export { locateGuess, parseGuess } from "./task/parse-guess.js";
export type {
  PromptTemplateName,
  RenderedPrompt,
  RenderPromptOptions,
  TokenizerConfigLike,
} from "./task/prompt.js";
export {
  COMPACT_ASSISTANT_PREFILL,
  COURSE_ASSISTANT_PREFILL,
  courseSystemPrompt,
  PROMPT_TEMPLATES,
  promptMessages,
  renderPrompt,
} from "./task/prompt.js";
export { parsePythonLiteral } from "./task/python-literal.js";
export type {
  RewardPreset,
  RewardPresetName,
  RewardPresetOptions,
  RewardScores,
} from "./task/rewards/presets.js";
export { REWARD_PRESETS, rewardPreset } from "./task/rewards/presets.js";
export type { NamedReward, RewardFunction, RewardState } from "./task/rewards/types.js";
export type { LoadSeedOptions, RawSeedRow, SeedDataset, SeedRow, SkippedRow } from "./task/seed-dataset.js";
export { loadSeedDataset, SEED_DATASET_FILE, validateSeedRows } from "./task/seed-dataset.js";
export type { SecretSplit, TrainValidationSplit } from "./task/split.js";
export { splitSecrets, splitTrainValidation } from "./task/split.js";
export type { TaskState } from "./task/state.js";
export { historyKey } from "./task/state.js";
export { AtomicFile, atomicWriteFile, removeStaleTemps, writeDirectoryAtomically } from "./util/atomic.js";
export type { RngState } from "./util/rng.js";
export { Rng } from "./util/rng.js";
export type { CodedHistoryEntry, HistoryEntry } from "./wordle/candidates.js";
export { candidates, candidatesCoded, encodeHistory, isConsistent } from "./wordle/candidates.js";
export { bucketCounts, entropyOfCounts, filterByCode, guessEntropy } from "./wordle/entropy.js";
export type { FeedbackNotation, ParsedFeedback } from "./wordle/feedback.js";
export { parseFeedback, renderFeedback } from "./wordle/feedback.js";
export type { GuessResult, InvalidKind, Turn, WordleGameOptions } from "./wordle/game.js";
export { WordleGame } from "./wordle/game.js";
export type { HardModeRules } from "./wordle/hard-mode.js";
export { hardModeRules, hardModeViolation } from "./wordle/hard-mode.js";
export type { PatternTable } from "./wordle/pattern-table.js";
export { buildPatternTable, patternRow, patternTable } from "./wordle/pattern-table.js";
export type { Feedback, LetterMark } from "./wordle/score.js";
export {
  ALL_CORRECT,
  decodePattern,
  encodePattern,
  PATTERN_COUNT,
  patternCode,
  scoreGuess,
} from "./wordle/score.js";
export type { GameRecord, SolveOptions, SolveReport } from "./wordle/solve.js";
export { solve } from "./wordle/solve.js";
export type { AnyHistoryEntry, GuessPool, Solver, SolverName, SolverOptions } from "./wordle/solver.js";
export { candidateIndices, createSolver, SOLVER_NAMES } from "./wordle/solver.js";
export type { SolverState } from "./wordle/solver-state.js";
export type { AllowedListName, WordLists } from "./wordle/words.js";
export { loadWordLists } from "./wordle/words.js";
