/**
 * Playing Wordle games with the policy for multi-turn rollouts: every unfinished game's prompt (the
 * template over its own history) goes to one `generate` call per turn, each completion is parsed and
 * judged, and the game moves on under the rules evaluation plays by (task/episode.ts): an invalid
 * guess costs a turn and changes nothing but the list of refused guesses (prompts show that list
 * with `showRefused`), or ends the game (`endOnInvalid`). Shared by the whole-game rollout
 * (multi-turn-rollout.ts) and the branching one (branch-rollout.ts).
 */
import { type SamplingSettings, samplingSettingsOf } from "../../model/logits-processors.js";
import { PromptCache } from "../../model/prompt-cache.js";
import {
  type Completion,
  type GenerateOptions,
  type GenerationStats,
  generate,
  type TokenFilter,
} from "../../model/sampler.js";
import type { Tokenizer } from "../../model/tokenizer.js";
import type { CausalLM } from "../../model/transformer.js";
import { type EpisodeStart, WordleEpisode } from "../../task/episode.js";
import { type GuessConstraintMode, positionsConstraint } from "../../task/guess-constraint.js";
import { normalizedInfoGain } from "../../task/info-gain.js";
import { parseGuess } from "../../task/parse-guess.js";
import { type PromptTemplateName, type RefusedGuess, renderPrompt } from "../../task/prompt.js";
import { mixSeeds } from "../../util/rng.js";
import { memoizeOn } from "../../util/weak-memo.js";
import {
  candidatesCoded,
  encodeHistory,
  type HistoryEntry,
  isConsistentCoded,
} from "../../wordle/candidates.js";
import { loadWordLists } from "../../wordle/words.js";
import { type LetterWeights, letterTokens, PrefixJudge, tokenShaping } from "./letter-shaping.js";

/** One played turn, as judged when it was played. */
export interface TurnRecord {
  promptIds: number[];
  tokenIds: number[];
  text: string;
  truncated: boolean;
  guess: string | null;
  historyBefore: HistoryEntry[];
  /** The game's refused guesses its prompt showed (none when the context does not show them). */
  refusedShown: RefusedGuess[];
  valid: boolean;
  consistent: boolean;
  repeated: boolean;
  /**
   * With PlayContext.judgeInformation: the guess's normalised expected information over the
   * answers still possible before it (task/info-gain.ts); 0 for an invalid guess.
   */
  information?: number;
  /** Letter credit: the shaping value of each completion token (letter-shaping.ts). */
  tokenValues?: number[];
  /** Constrained decoding: the filter each completion token was drawn under. */
  tokenFilters?: (TokenFilter | null)[];
}

/** A game being played for a rollout: the shared game rules (task/episode.ts) and its turns. */
export class LiveGame {
  readonly turns: TurnRecord[] = [];

  constructor(readonly episode: WordleEpisode) {}

  get secret(): string {
    return this.episode.secret;
  }
  /** Scored guesses so far. */
  get history(): readonly HistoryEntry[] {
    return this.episode.history;
  }
  /** Guesses the game refused (invalid ones), in play order. */
  get refused(): readonly RefusedGuess[] {
    return this.episode.refused;
  }
  get won(): boolean {
    return this.episode.won;
  }
  get over(): boolean {
    return this.episode.over;
  }
}

/** A game under this context's rules, from the empty board or from another game's position. */
export function newGame(
  ctx: Pick<PlayContext, "maxTurns" | "endOnInvalid">,
  secret: string,
  start?: EpisodeStart,
): LiveGame {
  return new LiveGame(
    new WordleEpisode(secret, { maxTurns: ctx.maxTurns, endOnInvalid: ctx.endOnInvalid }, start),
  );
}

export interface PlayContext {
  model: CausalLM;
  tokenizer: Tokenizer;
  template: PromptTemplateName;
  maxNewTokens: number;
  maxTurns: number;
  endOnInvalid: boolean;
  /** Show the game's refused guesses in the prompts. */
  showRefused: boolean;
  /** Guesses the decoder may spell (task/guess-constraint.ts). */
  constrain: GuessConstraintMode;
  /** Letter credit: judge each letter too, with these weights (null: turn-level only). */
  letterWeights: LetterWeights | null;
  /** Judge each valid guess's expected information (TurnRecord.information). */
  judgeInformation?: boolean;
  /** Turn-level shaping of a judged turn (the tokens outside a guess's letters get it). */
  turnValue: (t: Pick<TurnRecord, "valid" | "consistent" | "repeated">) => number;
  /** Told the prefill / decode split of every generate call (benchmarks, profiling). */
  onGenerate?: (stats: GenerationStats) => void;
}

/** How a turn's guesses are decoded: the sampler's settings, greedy or not, and the seed. */
export interface Decoding extends SamplingSettings {
  greedy: boolean;
  seed?: number;
  /**
   * Keyed random streams (data parallelism): the game with local index k is game firstGame + k of
   * the step, and its tokens come from keyedUniform(mix(seed, round), game, position).
   */
  stream?: { seed: number; firstGame: number };
}

/** One PrefixJudge per word list: its prefix sets and history cache outlive a step. */
const prefixJudge = memoizeOn((allowed: readonly string[]) => new PrefixJudge(allowed));

/** The refused guesses a prompt shows in this context: a copy of them, or none. */
function shownRefusals(ctx: PlayContext, refused: readonly RefusedGuess[]): RefusedGuess[] {
  return ctx.showRefused ? refused.map((r) => ({ ...r })) : [];
}

/** The prompt of a position: its scored guesses, and its refused ones when the context shows them. */
export function renderGamePrompt(
  ctx: PlayContext,
  position: { history: readonly HistoryEntry[]; refused: readonly RefusedGuess[] },
): number[] {
  const state = { history: position.history, refused: shownRefusals(ctx, position.refused) };
  return ctx.tokenizer.encode(renderPrompt(state, { template: ctx.template, tokenizer: ctx.tokenizer }).text);
}

/** Judge a completion played in `game` after `promptIds`, record it and advance the game. */
export function applyCompletion(
  ctx: PlayContext,
  game: LiveGame,
  promptIds: number[],
  completion: Pick<Completion, "tokenIds" | "text" | "truncated" | "tokenFilters">,
): TurnRecord {
  const guess = parseGuess(completion.text)?.toLowerCase() ?? null;
  const historyBefore = [...game.history];
  const refusedShown = shownRefusals(ctx, game.refused);
  const move = game.episode.play(guess);
  const coded = encodeHistory(historyBefore);
  const record: TurnRecord = {
    promptIds,
    tokenIds: completion.tokenIds,
    text: completion.text,
    truncated: completion.truncated,
    guess,
    historyBefore,
    refusedShown,
    valid: move.valid,
    consistent: move.valid && isConsistentCoded(move.word, coded),
    repeated: move.valid && historyBefore.some((h) => h.guess === move.word),
    ...(completion.tokenFilters === undefined ? {} : { tokenFilters: completion.tokenFilters }),
  };
  if (ctx.judgeInformation)
    record.information = move.valid
      ? normalizedInfoGain(move.word, candidatesCoded(coded, loadWordLists().answers))
      : 0;
  if (ctx.letterWeights !== null) {
    const letters =
      guess !== null && guess.length === 5
        ? prefixJudge(loadWordLists().allowed).letterValues(guess, historyBefore, ctx.letterWeights)
        : null;
    record.tokenValues = tokenShaping(
      completion.tokenIds.length,
      ctx.turnValue(record),
      letters,
      letters === null ? null : letterTokens(ctx.tokenizer, completion.tokenIds),
    );
  }
  game.turns.push(record);
  return record;
}

/**
 * Play every unfinished game to its end (a win, an invalid guess with endOnInvalid, or maxTurns
 * turns counted from the empty board), one generate call per turn for all of them.
 */
export function playToEnd(ctx: PlayContext, games: readonly LiveGame[], decoding: Decoding): void {
  // Each game keeps its KV cache row from turn to turn: a turn feeds only its new tokens.
  const cache = new PromptCache();
  try {
    for (let round = 0; ; round++) {
      const active = games.flatMap((g, key) => (!g.over && turnsPlayed(g) < ctx.maxTurns ? [key] : []));
      if (active.length === 0) return;
      const prompts = active.map((key) => renderGamePrompt(ctx, games[key]));
      const histories = active.map((key) => games[key].history);
      const completions = generateGuesses(ctx, prompts, histories, decoding, round, 1, {
        cache,
        keys: active,
      });
      completions.forEach((c, i) => {
        applyCompletion(ctx, games[active[i]], prompts[i], c);
      });
    }
  } finally {
    cache.dispose();
  }
}

/**
 * One `generate` call for guesses at these prompts (`numReturnSequences` each, one prefill per
 * distinct prompt, or continuing the rows of a prompt cache), with dropout off: playing is
 * inference even in the middle of a training step. `histories[p]` is prompt p's game so far (what
 * the guess constraint judges against). `round` varies the seed from call to call of one rollout.
 */
export function generateGuesses(
  ctx: PlayContext,
  prompts: number[][],
  histories: readonly (readonly HistoryEntry[])[],
  decoding: Decoding,
  round: number,
  numReturnSequences = 1,
  promptCache?: GenerateOptions["promptCache"],
): Completion[] {
  const wasTraining = ctx.model.training;
  ctx.model.training = false;
  const constrain = positionsConstraint(ctx.constrain, histories, {
    tokenizer: ctx.tokenizer,
    template: ctx.template,
    perPrompt: numReturnSequences,
  });
  try {
    return generate(ctx.model, ctx.tokenizer, prompts, {
      constrain,
      numReturnSequences,
      maxNewTokens: ctx.maxNewTokens,
      greedy: decoding.greedy,
      ...samplingSettingsOf(decoding),
      stopStrings: ["</guess>"],
      seed: decoding.seed === undefined ? undefined : decoding.seed * 7919 + round,
      ...(decoding.stream === undefined
        ? {}
        : { streams: keyedStreams(decoding.stream, round, prompts, numReturnSequences, promptCache) }),
      onStats: ctx.onGenerate,
      promptCache,
    });
  } finally {
    ctx.model.training = wasTraining;
  }
}

/** GenerateOptions.streams for one call: row (game k, sample g) is keyed by its game of the step. */
function keyedStreams(
  stream: NonNullable<Decoding["stream"]>,
  round: number,
  prompts: readonly number[][],
  perPrompt: number,
  promptCache?: GenerateOptions["promptCache"],
): { seed: number; rowKeys: number[] } {
  const games = promptCache?.keys ?? prompts.map((_, i) => i);
  return {
    seed: mixSeeds(stream.seed, round),
    rowKeys: games.flatMap((k) =>
      Array.from({ length: perPrompt }, (_, g) => (stream.firstGame + k) * perPrompt + g),
    ),
  };
}

/** Turns a game has used since the empty board. */
export function turnsPlayed(game: LiveGame): number {
  return game.episode.turnsUsed;
}
