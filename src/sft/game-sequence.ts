/**
 * A whole teacher game as ONE training sequence, in exactly the text the model will be prompted
 * with at play time.
 *
 * The tiny prompt template is a multi-turn conversation in which the prompt of turn k+1 extends
 * the prompt of turn k by the completion of turn k (`<guess>WORD</guess>`), its `<|im_end|>`, and
 * the feedback line. So the rendered conversation after the LAST turn contains every earlier prompt
 * as a prefix, each followed by the completion the teacher gave there: training on that one
 * sequence with the loss on the assistant tokens is the same as training on every (prompt,
 * completion) pair, at the cost of one sequence per game instead of one per turn.
 * test/sft-sequences.test.ts checks the prefix property against renderPrompt for every turn.
 *
 * Learned tokens: each assistant turn, `<guess>` through its closing `<|im_end|>` (so a sampler
 * without stop strings also ends the turn). Noise turns (learn = false) stay in the context
 * unlearned. The sequence ends after the last assistant turn (the final feedback line teaches
 * nothing).
 */
import type { Tokenizer } from "../model/tokenizer.js";
import { promptMessages, renderPrompt } from "../task/prompt.js";
import type { TeacherTurn } from "./teacher.js";
import { renderTinyChat } from "./tiny-tokenizer.js";

export interface GameSequence {
  /** Token ids of the conversation up to and including the last guess's <|im_end|>. */
  ids: number[];
  /** learn[t] = 1 when ids[t] is a training target (predicted from ids[0..t-1]). */
  learn: Uint8Array;
  /** Number of assistant turns found (= turns of the game). */
  turns: number;
}

export interface ChatTokenIds {
  guessOpen: number;
  imEnd: number;
}

/** The ids of the tokens that delimit an assistant turn (errors name the missing one). */
export function chatTokenIds(tokenizer: Tokenizer): ChatTokenIds {
  const id = (token: string): number => {
    const ids = tokenizer.encode(token);
    if (ids.length !== 1)
      throw new Error(
        `${tokenizer.source}: ${JSON.stringify(token)} must be one token for whole-game training, got ${ids.length}`,
      );
    return ids[0];
  };
  return { guessOpen: id("<guess>"), imEnd: id("<|im_end|>") };
}

/**
 * Encodes text exactly as a tokenizer with single-character vocabulary entries and added tokens
 * does (added tokens matched first, longest first, anywhere in the text; every other character is
 * its own token), about 50x faster than the general library on the training hot path.
 * SequenceBuilder checks it against the real tokenizer on the first sequences of every run.
 */
export class CharEncoder {
  private readonly added: { text: string; id: number }[];
  private readonly chars = new Map<string, number>();
  private readonly unk: number;

  constructor(tokenizer: Tokenizer) {
    const probe = (s: string): number | undefined => tokenizer.tokenToId(s);
    this.added = [];
    for (let id = 0; id < tokenizer.vocabSize; id++) {
      const token = tokenizer.idToToken(id);
      if (token === undefined) continue;
      if ([...token].length === 1) this.chars.set(token, id);
      else this.added.push({ text: token, id });
    }
    this.added.sort((a, b) => b.text.length - a.text.length);
    const unk = probe("<|unk|>");
    if (unk === undefined)
      throw new Error(`${tokenizer.source}: a character tokenizer needs an <|unk|> token`);
    this.unk = unk;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    let i = 0;
    outer: while (i < text.length) {
      for (const { text: token, id } of this.added) {
        if (text.startsWith(token, i)) {
          out.push(id);
          i += token.length;
          continue outer;
        }
      }
      const cp = text.codePointAt(i) as number;
      const ch = String.fromCodePoint(cp);
      out.push(this.chars.get(ch) ?? this.unk);
      i += ch.length;
    }
    return out;
  }
}

/** Mark the learned tokens of a tokenized tiny-template game (see the file comment). */
export function markGameTokens(
  tokens: readonly number[],
  turns: readonly TeacherTurn[],
  ids: ChatTokenIds,
): GameSequence {
  const learn = new Uint8Array(tokens.length);
  let turn = 0;
  let end = 0;
  for (let t = 0; t < tokens.length; t++) {
    if (tokens[t] !== ids.guessOpen) continue;
    let close = t + 1;
    while (close < tokens.length && tokens[close] !== ids.imEnd) close++;
    if (close === tokens.length) break;
    if (turns[turn]?.learn) for (let k = t; k <= close; k++) learn[k] = 1;
    turn++;
    end = close + 1;
    t = close;
  }
  if (turn !== turns.length)
    throw new Error(
      `gameSequence: found ${turn} assistant turns in the rendered game, expected ${turns.length} (the tiny chat template ends each one with <|im_end|>)`,
    );
  return { ids: tokens.slice(0, end), learn: learn.slice(0, end), turns: turn };
}

/**
 * The reference path, exactly what play sees: renderPrompt with the tokenizer's own Jinja chat
 * template, then the tokenizer. About 2 ms a game.
 */
export function gameSequence(
  tokenizer: Tokenizer,
  turns: readonly TeacherTurn[],
  ids: ChatTokenIds = chatTokenIds(tokenizer),
): GameSequence {
  if (turns.length === 0) throw new Error("gameSequence: a game needs at least one turn");
  const text = renderPrompt({ history: turns }, { template: "tiny", tokenizer }).text;
  return markGameTokens(tokenizer.encode(text), turns, ids);
}

/**
 * The training path: the tiny template's messages rendered without Jinja (renderTinyChat) and
 * CharEncoder, about 10x faster.
 * The first `checkFirst` games are also built by the reference path and must match token for
 * token, so a model whose chat template or tokenizer differs fails at once instead of training
 * on a format it will never be prompted with.
 */
export class SequenceBuilder {
  private readonly encoder: CharEncoder;
  private readonly ids: ChatTokenIds;
  private checked = 0;

  constructor(
    private readonly tokenizer: Tokenizer,
    private readonly checkFirst = 32,
  ) {
    this.encoder = new CharEncoder(tokenizer);
    this.ids = chatTokenIds(tokenizer);
  }

  build(turns: readonly TeacherTurn[]): GameSequence {
    if (turns.length === 0) throw new Error("gameSequence: a game needs at least one turn");
    const text = renderTinyChat(promptMessages({ history: turns }, "tiny"));
    const fast = markGameTokens(this.encoder.encode(text), turns, this.ids);
    if (this.checked < this.checkFirst) {
      this.checked++;
      const reference = gameSequence(this.tokenizer, turns, this.ids);
      if (reference.ids.length !== fast.ids.length || reference.ids.some((id, i) => id !== fast.ids[i]))
        throw new Error(
          `${this.tokenizer.source}: the fast training encoding differs from the chat template + tokenizer path for the game ${turns.map((t) => t.guess).join(",")}; train a model with the tiny chat template and a character-level tokenizer`,
        );
    }
    return fast;
  }
}
