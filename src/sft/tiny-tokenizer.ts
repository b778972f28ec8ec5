/**
 * The tokenizer files of the shipped tiny model: a character-level tokenizer.json (see
 * src/model/tokenizer-char.ts) plus tokenizer_config.json with a chat template, as a real Qwen
 * checkpoint has them, so the tiny model runs through exactly the code path a 0.5B model does
 * (renderPrompt -> chat template -> tokenizer -> sampler -> parseGuess).
 *
 * Added tokens: <|endoftext|> (padding), <|im_start|>, <|im_end|> (end of an assistant turn = EOS),
 * all special, and <guess>, </guess>, which are single tokens but not special, so a completion
 * decoded with skip_special_tokens keeps its tags. A completion `<guess>CRANE</guess>` is 7 tokens.
 *
 * The chat template is ChatML cut to the bone, because a transformer's cost grows with the
 * sequence and a CPU trains this model: a user turn is its content and a newline, an assistant
 * turn is its content and <|im_end|>, and the generation prompt is empty (the model's turn starts
 * right after a user line). One turn of play is then 14 tokens (ChatML framing would make it 22):
 *
 *   Wordle\n<guess>CRANE</guess><|im_end|>×~××✓\n<guess>SLOTH</guess><|im_end|>✓✓✓✓✓\n
 */
import { buildCharTokenizerJson } from "../model/tokenizer-char.js";

export const TINY_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<guess>", "</guess>"];
/** Added tokens that decoding must keep (see buildTinyTokenizerFiles). */
export const TINY_TEXT_TOKENS = ["<guess>", "</guess>"];
export const TINY_UNK_TOKEN = "<|unk|>";
export const TINY_EOS_TOKEN = "<|im_end|>";
export const TINY_PAD_TOKEN = "<|endoftext|>";

/** Single characters: newline, space, letters, the feedback marks and a little punctuation. */
export const TINY_CHARACTERS: readonly string[] = [
  "\n",
  " ",
  ..."ABCDEFGHIJKLMNOPQRSTUVWXYZ",
  ..."abcdefghijklmnopqrstuvwxyz",
  "✓",
  "~",
  "×",
  "-",
  ":",
  "?",
  ".",
];

/** The chat template (Jinja, as tokenizer_config.json stores it); see the file comment. */
export const TINY_CHAT_TEMPLATE =
  "{%- for message in messages %}" +
  "{%- if message['role'] == 'assistant' %}{{- message['content'] + '<|im_end|>' }}" +
  "{%- else %}{{- message['content'] + '\\n' }}{%- endif %}" +
  "{%- endfor %}";

/** What TINY_CHAT_TEMPLATE renders, without Jinja (the training hot path; tests compare the two). */
export function renderTinyChat(messages: readonly { role: string; content: string }[]): string {
  let text = "";
  for (const m of messages) text += m.role === "assistant" ? `${m.content}<|im_end|>` : `${m.content}\n`;
  return text;
}

export interface TinyTokenizerFiles {
  /** tokenizer.json */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json */
  tokenizerConfig: Record<string, unknown>;
  /** Number of tokens (config.json's vocab_size). */
  vocabSize: number;
  /** Ids the model config and generation_config.json name. */
  ids: { eos: number; pad: number; imStart: number; endOfText: number };
}

export function buildTinyTokenizerFiles(): TinyTokenizerFiles {
  const tokenizer = buildCharTokenizerJson(TINY_CHARACTERS, TINY_SPECIAL_TOKENS, {
    unkToken: TINY_UNK_TOKEN,
  });
  const added = tokenizer.added_tokens as { id: number; content: string; special: boolean }[];
  // <guess> and </guess> are added tokens (always one token each) but NOT special: samplers decode
  // completions with skip_special_tokens (TRL does), and the parser must still see the tags.
  for (const token of added) if (TINY_TEXT_TOKENS.includes(token.content)) token.special = false;
  const vocab = (tokenizer.model as { vocab: Record<string, number> }).vocab;
  const id = (token: string): number => vocab[token] as number;
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const token of added) {
    addedTokensDecoder[String(token.id)] = {
      content: token.content,
      lstrip: false,
      normalized: false,
      rstrip: false,
      single_word: false,
      special: token.special,
    };
  }
  const tokenizerConfig = {
    tokenizer_class: "PreTrainedTokenizerFast",
    added_tokens_decoder: addedTokensDecoder,
    bos_token: null,
    eos_token: TINY_EOS_TOKEN,
    pad_token: TINY_PAD_TOKEN,
    unk_token: TINY_UNK_TOKEN,
    clean_up_tokenization_spaces: false,
    model_max_length: 512,
    chat_template: TINY_CHAT_TEMPLATE,
  };
  return {
    tokenizer,
    tokenizerConfig,
    vocabSize: Object.keys(vocab).length,
    ids: {
      eos: id(TINY_EOS_TOKEN),
      pad: id(TINY_PAD_TOKEN),
      imStart: id("<|im_start|>"),
      endOfText: id("<|endoftext|>"),
    },
  };
}
