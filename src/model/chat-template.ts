/**
 * Render a conversation through a model's Jinja chat template, as transformers'
 * `apply_chat_template` does, with @huggingface/jinja (which uses the same trim_blocks /
 * lstrip_blocks settings as transformers).
 *
 * Two ways to end the text:
 * - `addGenerationPrompt`: append the template's cue for a new assistant turn
 *   (e.g. "<|im_start|>assistant\n"), so the model writes a fresh reply.
 * - `continueFinalMessage`: the last message is a pre-filled start of the reply (our dataset
 *   pre-fills "Let me solve this step by step.\n<think>"). The template renders it as a finished
 *   turn; we cut the text right after that message's content, dropping the end-of-turn tokens,
 *   so the model continues the same message.
 */
import { Template } from "@huggingface/jinja";
import type { Tokenizer } from "./tokenizer.js";

export interface ChatMessage {
  role: string;
  content: string;
  /** Templates may read more fields (reasoning_content, tool_calls, ...). */
  [field: string]: unknown;
}

export interface ChatTemplateOptions {
  addGenerationPrompt?: boolean;
  continueFinalMessage?: boolean;
  /** Extra template variables, e.g. `{ enable_thinking: false }` for Qwen3's template. */
  variables?: Record<string, unknown>;
}

export class ChatTemplateError extends Error {
  constructor(detail: string) {
    super(`chat template: ${detail}`);
    this.name = "ChatTemplateError";
  }
}

/** Parsing a template is far slower than rendering it; a run renders the same one thousands of times. */
const compiled = new Map<string, Template>();

function compile(template: string): Template {
  let hit = compiled.get(template);
  if (!hit) {
    try {
      hit = new Template(template);
    } catch (error) {
      throw new ChatTemplateError(`cannot parse the template: ${(error as Error).message}`);
    }
    compiled.set(template, hit);
  }
  return hit;
}

/** Python's str.strip() family strips whitespace; JS trim* is the same for all text we meet here. */
function cutAfterFinalMessage(rendered: string, content: string): string {
  const stripped = content.trim();
  // Search for the stripped content: templates often trim messages, so the exact text may be absent.
  const at = rendered.lastIndexOf(stripped);
  if (at < 0)
    throw new ChatTemplateError(
      "continueFinalMessage is set but the final message does not appear in the rendered text (the template rewrites it)",
    );
  // If the template kept the message as written, cut after all of it (its trailing whitespace
  // included); if it trimmed the message, cut after the trimmed text.
  const leftTrimmed = content.trimStart();
  const end =
    rendered.slice(at, at + leftTrimmed.length) === content ? at + leftTrimmed.length : at + stripped.length;
  return rendered.slice(0, end);
}

/**
 * Render `messages` through `template`. `specialTokens` supplies bos_token, eos_token, ... as the
 * template variables transformers passes (see Tokenizer.specialTokensMap).
 */
export function renderChatTemplate(
  template: string,
  messages: readonly ChatMessage[],
  options: ChatTemplateOptions & { specialTokens?: Readonly<Record<string, string>> } = {},
): string {
  const { addGenerationPrompt = false, continueFinalMessage = false } = options;
  if (addGenerationPrompt && continueFinalMessage)
    throw new ChatTemplateError(
      "addGenerationPrompt and continueFinalMessage cannot both be set: one starts a new assistant turn, the other continues the last message",
    );
  messages.forEach((m, i) => {
    if (typeof m?.role !== "string" || typeof m.content !== "string")
      throw new ChatTemplateError(
        `message ${i} needs a string role and a string content, got ${JSON.stringify(m)}`,
      );
  });
  if (continueFinalMessage && messages.length === 0)
    throw new ChatTemplateError("continueFinalMessage needs at least one message to continue");

  let rendered: string;
  try {
    rendered = compile(template).render({
      ...options.specialTokens,
      ...options.variables,
      messages,
      add_generation_prompt: addGenerationPrompt,
    });
  } catch (error) {
    if (error instanceof ChatTemplateError) throw error;
    throw new ChatTemplateError(`rendering failed: ${(error as Error).message}`);
  }
  return continueFinalMessage
    ? cutAfterFinalMessage(rendered, messages[messages.length - 1].content)
    : rendered;
}

/** Render with the tokenizer's own chat template and special tokens. */
export function applyChatTemplate(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  options: ChatTemplateOptions = {},
): string {
  if (tokenizer.chatTemplate === null)
    throw new ChatTemplateError(
      `${tokenizer.source} has no chat template (tokenizer_config.json "chat_template" or chat_template.jinja)`,
    );
  return renderChatTemplate(tokenizer.chatTemplate, messages, {
    ...options,
    specialTokens: tokenizer.specialTokensMap,
  });
}

/**
 * Render and tokenize. Special tokens in the text (<|im_start|>, ...) are recognised and no extra
 * ones are added, as transformers' apply_chat_template(tokenize=True) does.
 */
export function applyChatTemplateIds(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  options: ChatTemplateOptions = {},
): number[] {
  return tokenizer.encode(applyChatTemplate(tokenizer, messages, options));
}
