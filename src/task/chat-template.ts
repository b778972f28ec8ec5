/**
 * Rendering a conversation through a model's own Jinja chat template (`tokenizer_config.json`'s
 * `chat_template`), with Hugging Face's `continue_final_message` semantics: the last message is a
 * pre-filled assistant turn that the model should continue, so the rendered text is cut right after
 * that message's content (dropping the end-of-turn marker the template appends).
 *
 * The cut follows transformers' rule: find the LAST occurrence of the stripped final content; keep
 * the content with its leading whitespace stripped if the template kept it verbatim, otherwise
 * keep it fully stripped (templates that trim trailing whitespace). A template that drops the
 * content entirely is an error, because the model would then not see its own prefill.
 */
import { Template } from "@huggingface/jinja";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

/** The fields of a `tokenizer_config.json` that chat templates read. */
export interface TokenizerConfigLike {
  chat_template?: string | { name: string; template: string }[];
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  pad_token?: string | { content: string } | null;
  unk_token?: string | { content: string } | null;
  [key: string]: unknown;
}

/** Pick the template text out of a tokenizer config (a string, or the "default" of a named list). */
export function chatTemplateOf(config: TokenizerConfigLike): string {
  const t = config.chat_template;
  if (typeof t === "string") return t;
  if (Array.isArray(t)) {
    const named = t.find((entry) => entry.name === "default") ?? t[0];
    if (named && typeof named.template === "string") return named.template;
  }
  throw new Error("tokenizer config: no chat_template (expected a string or a list of {name, template})");
}

function tokenText(token: TokenizerConfigLike["bos_token"]): string | undefined {
  if (typeof token === "string") return token;
  if (token && typeof token === "object" && typeof token.content === "string") return token.content;
  return undefined;
}

export interface ApplyChatTemplateOptions {
  /** The Jinja template text; if absent, taken from `tokenizerConfig`. */
  chatTemplate?: string;
  tokenizerConfig?: TokenizerConfigLike;
  /** Cut after the final (assistant) message instead of closing it. Default true. */
  continueFinalMessage?: boolean;
}

/** Render messages with a Jinja chat template (see the file comment for the final-message cut). */
export function applyChatTemplate(
  messages: readonly ChatMessage[],
  options: ApplyChatTemplateOptions,
): string {
  const config = options.tokenizerConfig ?? {};
  const source = options.chatTemplate ?? chatTemplateOf(config);
  const template = new Template(source);
  const rendered = template.render({
    messages: messages.map((m) => ({ role: m.role, content: m.content })),
    add_generation_prompt: false,
    bos_token: tokenText(config.bos_token) ?? "",
    eos_token: tokenText(config.eos_token) ?? "",
    pad_token: tokenText(config.pad_token) ?? "",
    unk_token: tokenText(config.unk_token) ?? "",
  });
  if (options.continueFinalMessage === false) return rendered;
  const final = messages.at(-1);
  if (final === undefined) throw new Error("applyChatTemplate: no messages to render");
  return cutAfterFinalMessage(rendered, final.content);
}

/** Transformers' continue_final_message cut, on an already rendered conversation. */
export function cutAfterFinalMessage(rendered: string, finalContent: string): string {
  const stripped = finalContent.trim();
  const at = rendered.lastIndexOf(stripped);
  if (stripped.length === 0 || at < 0) {
    throw new Error(
      `chat template: the final message ${JSON.stringify(finalContent.slice(0, 60))} does not appear in the ` +
        "rendered text, so it cannot be continued (the template drops or rewrites assistant content)",
    );
  }
  const leftTrimmed = finalContent.trimStart();
  if (rendered.slice(at, at + leftTrimmed.length) === finalContent)
    return rendered.slice(0, at + leftTrimmed.length);
  return rendered.slice(0, at + stripped.length);
}
