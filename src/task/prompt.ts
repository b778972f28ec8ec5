/**
 * Prompt templates: a Wordle position (secret + history) becomes the text the model continues.
 *
 * `course` reproduces the predibase/wordle-grpo prompt byte for byte:
 *
 *   <|im_start|>system\n{SYSTEM}<|im_end|>\n
 *   <|im_start|>user\n{USER}<|im_end|>\n
 *   <|im_start|>assistant\nLet me solve this step by step.\n<think>
 *
 * SYSTEM is data/predibase-wordle-system-prompt.txt verbatim (it starts and ends with "\n").
 * USER is `Make your first 5-letter word guess.` on an empty history, otherwise
 * `Make a new 5-letter word guess.\n\n Here is some previous feedback:\n` followed by one line per
 * turn, `Guess 1: CRANE -> Feedback: C(x) R(x) A(-) N(x) E(-)`, joined by "\n". Note the dataset's
 * quirks, kept on purpose: a space before "Here", and an ASCII "->" (the system prompt's example
 * uses "→").
 *
 * `compact` is for small models with short contexts (about a third of the tokens):
 *
 *   system: Wordle: find the secret 5-letter word. Feedback per letter: ✓ right spot, ~ in the word
 *           elsewhere, × not in the word. Reply as <think>short reasoning</think>\n<guess>WORD</guess>
 *   user:   First guess?                                  (empty history)
 *           Guesses so far:\nCRANE C× R× A~ N× E~\n...\nNext guess?
 *   assistant prefill: <think>
 *
 * `tiny` is for the shipped character-level model: no system prompt, no reasoning, and the game as
 * a real multi-turn conversation, so the prompt of turn k+1 extends the prompt of turn k (a whole
 * game trains as ONE sequence, and the KV cache of one turn could serve the next):
 *
 *   user:      Wordle
 *   assistant: <guess>CRANE</guess>
 *   user:      ×~××✓                                     (the marks of that guess, letter by letter)
 *   ...                                                  (then a generation prompt, no prefill)
 *
 * Its completion is just `<guess>WORD</guess>`; with the tiny tokenizer (src/sft/tiny-tokenizer.ts)
 * that is 7 tokens.
 *
 * A position may also carry refused guesses (`PromptState.refused`: words the game did not accept).
 * They are shown in play order among the scored ones: tiny answers one with `?????` instead of
 * marks; course and compact print a "not in the word list" line. With none, every template renders
 * exactly as above.
 *
 * course and compact end with a pre-filled `<think>`, so every reward's "`<think>` + completion"
 * reading holds; tiny has no prefill (render with add_generation_prompt instead).
 * Without a chat template the messages are wrapped in Qwen2.5's ChatML (as the dataset is); with a
 * model's Jinja chat template (a Tokenizer, a tokenizer_config.json object, or the template text)
 * they are rendered by src/model/chat-template.ts with continue_final_message semantics: rendered
 * as a finished conversation, then cut right after the assistant prefill.
 */
import { readFileSync } from "node:fs";
import { type ChatMessage, renderChatTemplate } from "../model/chat-template.js";
import type { Tokenizer } from "../model/tokenizer.js";
import { dataPath } from "../paths.js";
import type { HistoryEntry } from "../wordle/candidates.js";
import { renderFeedback } from "../wordle/feedback.js";

export type PromptTemplateName = "course" | "compact" | "tiny";
export const PROMPT_TEMPLATES: readonly PromptTemplateName[] = ["course", "compact", "tiny"];

export const COURSE_SYSTEM_PROMPT_FILE = "predibase-wordle-system-prompt.txt";
export const COURSE_ASSISTANT_PREFILL = "Let me solve this step by step.\n<think>";
export const COMPACT_ASSISTANT_PREFILL = "<think>";
export const COMPACT_SYSTEM_PROMPT =
  "Wordle: find the secret 5-letter word. Feedback per letter: ✓ right spot, ~ in the word elsewhere, " +
  "× not in the word. Reply as <think>short reasoning</think>\n<guess>WORD</guess>";
/** The tiny template's opening user turn (the whole instruction: the model learns the rest). */
export const TINY_OPENING = "Wordle";
const TINY_MARK = { correct: "✓", present: "~", absent: "×" } as const;

let cachedSystemPrompt: string | undefined;

/** The course system prompt, read once from data/. */
export function courseSystemPrompt(): string {
  cachedSystemPrompt ??= readFileSync(dataPath(COURSE_SYSTEM_PROMPT_FILE), "utf8");
  return cachedSystemPrompt;
}

/**
 * A guess the game refused (not an accepted word, unreadable, a hard-mode violation). The real
 * game answers "not in word list" and the player tries another word; a prompt that shows the
 * refusal lets the model do the same instead of repeating it at an unchanged position.
 */
export interface RefusedGuess {
  /** The guess as read from the completion (any case), or null when none could be read. */
  guess: string | null;
  /** Scored guesses played before it: it is shown right after history[after - 1]. */
  after: number;
}

/** What a prompt needs from a position; the secret is deliberately not part of it. */
export interface PromptState {
  history: readonly HistoryEntry[];
  /** Refused guesses to show, in play order (none: the prompt shows scored guesses only). */
  refused?: readonly RefusedGuess[];
}

/** The tiny template's answer to a refused guess: one "?" per letter slot. */
export const TINY_REFUSED_MARKS = "?????";

export type Attempt = { kind: "scored"; scored: HistoryEntry } | { kind: "refused"; refused: RefusedGuess };

/** Scored and refused guesses merged in play order. */
export function attemptsInPlayOrder(state: PromptState): Attempt[] {
  const refused = state.refused ?? [];
  const n = state.history.length;
  for (const r of refused)
    if (!Number.isInteger(r.after) || r.after < 0 || r.after > n)
      throw new Error(
        `renderPrompt: a refused guess's "after" must be an integer in 0..${n} (the scored guesses), got ${r.after}`,
      );
  const out: Attempt[] = [];
  for (let k = 0; k <= n; k++) {
    for (const r of refused) if (r.after === k) out.push({ kind: "refused", refused: r });
    if (k < n) out.push({ kind: "scored", scored: state.history[k] });
  }
  return out;
}

const refusedWord = (r: RefusedGuess): string => (r.guess ?? "").toUpperCase();

/** The fields of a parsed tokenizer_config.json that chat templates use. */
export interface TokenizerConfigLike {
  chat_template?: string | { name: string; template: string }[];
  [field: string]: unknown;
}

export interface RenderPromptOptions {
  template?: PromptTemplateName;
  /** A loaded tokenizer: its chat template and special tokens are used. */
  tokenizer?: Tokenizer;
  /** A Jinja chat template text (with `specialTokens` for bos_token, eos_token, ...). */
  chatTemplate?: string;
  specialTokens?: Readonly<Record<string, string>>;
  /** A parsed tokenizer_config.json: its chat_template and *_token entries are used. */
  tokenizerConfig?: TokenizerConfigLike;
}

export interface RenderedPrompt {
  /** The full text the model continues. */
  text: string;
  /** system, user and the pre-filled assistant turn (for a model's own chat template). */
  messages: ChatMessage[];
  template: PromptTemplateName;
  /** The assistant prefill the completion continues (ends with `<think>`; "" for tiny). */
  assistantPrefill: string;
}

function courseUserTurn(state: PromptState): string {
  const attempts = attemptsInPlayOrder(state);
  if (attempts.length === 0) return "Make your first 5-letter word guess.";
  const lines = attempts.map((a, i) =>
    a.kind === "scored"
      ? `Guess ${i + 1}: ${a.scored.guess.toUpperCase()} -> Feedback: ${renderFeedback(a.scored.guess, a.scored.feedback, "dataset")}`
      : `Guess ${i + 1}: ${refusedWord(a.refused)} -> Not in the word list (no feedback, try another word)`,
  );
  return `Make a new 5-letter word guess.\n\n Here is some previous feedback:\n${lines.join("\n")}`;
}

function compactUserTurn(state: PromptState): string {
  const attempts = attemptsInPlayOrder(state);
  if (attempts.length === 0) return "First guess?";
  const lines = attempts.map((a) =>
    a.kind === "scored"
      ? `${a.scored.guess.toUpperCase()} ${renderFeedback(a.scored.guess, a.scored.feedback, "symbols")}`
      : `${refusedWord(a.refused)} not in word list`,
  );
  return `Guesses so far:\n${lines.join("\n")}\nNext guess?`;
}

/**
 * tiny: the opening, then one assistant guess and one user line per turn: the marks of a scored
 * guess, or TINY_REFUSED_MARKS for a refused one.
 */
function tinyMessages(state: PromptState): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: "user", content: TINY_OPENING }];
  for (const a of attemptsInPlayOrder(state)) {
    const word = a.kind === "scored" ? a.scored.guess.toUpperCase() : refusedWord(a.refused);
    messages.push({ role: "assistant", content: `<guess>${word}</guess>` });
    messages.push({
      role: "user",
      content:
        a.kind === "scored" ? a.scored.feedback.map((mark) => TINY_MARK[mark]).join("") : TINY_REFUSED_MARKS,
    });
  }
  return messages;
}

/**
 * The messages of a prompt: system, user and assistant prefill (course, compact), or the
 * conversation so far ending with a user turn (tiny).
 */
export function promptMessages(state: PromptState, template: PromptTemplateName = "course"): ChatMessage[] {
  if (template === "tiny") return tinyMessages(state);
  if (template === "course") {
    return [
      { role: "system", content: courseSystemPrompt() },
      { role: "user", content: courseUserTurn(state) },
      { role: "assistant", content: COURSE_ASSISTANT_PREFILL },
    ];
  }
  if (template === "compact") {
    return [
      { role: "system", content: COMPACT_SYSTEM_PROMPT },
      { role: "user", content: compactUserTurn(state) },
      { role: "assistant", content: COMPACT_ASSISTANT_PREFILL },
    ];
  }
  throw new Error(
    `renderPrompt: template must be one of ${PROMPT_TEMPLATES.join(", ")}, got ${JSON.stringify(template)}`,
  );
}

/** Qwen2.5 ChatML, ending inside the assistant turn right after its prefill. */
export function chatMlWithPrefill(messages: readonly ChatMessage[]): string {
  const last = messages.length - 1;
  return messages
    .map((m, i) =>
      i === last && m.role === "assistant"
        ? `<|im_start|>${m.role}\n${m.content}`
        : `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`,
    )
    .join("");
}

/** The template text of a tokenizer config: a string, or the "default" entry of a named list. */
export function chatTemplateOf(config: TokenizerConfigLike): string {
  const t = config.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const named = t.find((entry) => entry.name === "default") ?? t[0];
    if (named && typeof named.template === "string") return named.template;
  }
  throw new Error(
    "renderPrompt: tokenizerConfig has no chat_template (a string or a list of {name, template})",
  );
}

/** bos_token, eos_token, ... of a tokenizer config (plain strings or {content} objects). */
function specialTokensOf(config: TokenizerConfigLike): Record<string, string> {
  const tokens: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!key.endsWith("_token")) continue;
    if (typeof value === "string") tokens[key] = value;
    else if (
      value &&
      typeof value === "object" &&
      typeof (value as { content?: unknown }).content === "string"
    ) {
      tokens[key] = (value as { content: string }).content;
    }
  }
  return tokens;
}

/** Render the prompt for a position. */
export function renderPrompt(state: PromptState, options: RenderPromptOptions = {}): RenderedPrompt {
  const template = options.template ?? "course";
  const messages = promptMessages(state, template);
  const jinja = options.tokenizer?.chatTemplate
    ? { source: options.tokenizer.chatTemplate, specialTokens: options.tokenizer.specialTokensMap }
    : options.chatTemplate !== undefined
      ? { source: options.chatTemplate, specialTokens: options.specialTokens ?? {} }
      : options.tokenizerConfig !== undefined
        ? {
            source: chatTemplateOf(options.tokenizerConfig),
            specialTokens: specialTokensOf(options.tokenizerConfig),
          }
        : undefined;
  if (options.tokenizer !== undefined && !options.tokenizer.chatTemplate) {
    throw new Error(`renderPrompt: the tokenizer ${options.tokenizer.source} has no chat template`);
  }
  if (template === "tiny") {
    // No prefill: a fresh assistant turn, as transformers' add_generation_prompt=True renders it.
    const text = jinja
      ? renderChatTemplate(jinja.source, messages, {
          addGenerationPrompt: true,
          specialTokens: jinja.specialTokens,
        })
      : `${chatMlWithPrefill(messages)}<|im_start|>assistant\n`;
    return { text, messages, template, assistantPrefill: "" };
  }
  const text = jinja
    ? renderChatTemplate(jinja.source, messages, {
        continueFinalMessage: true,
        specialTokens: jinja.specialTokens,
      })
    : chatMlWithPrefill(messages);
  return { text, messages, template, assistantPrefill: messages[messages.length - 1].content };
}
