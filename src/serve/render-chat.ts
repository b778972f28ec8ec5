/**
 * Chat messages -> the prompt text, as evaluation renders it (task/prompt.ts): the tokenizer's own
 * chat template when it has one, else Qwen2.5 ChatML. A conversation ending with an assistant
 * message is a pre-filled reply that the model continues (the course and compact templates end
 * so); one ending with a user message gets a fresh assistant turn (tiny). The vLLM request fields
 * add_generation_prompt and continue_final_message override that choice.
 */
import { applyChatTemplate, type ChatMessage } from "../model/chat-template.js";
import type { Tokenizer } from "../model/tokenizer.js";
import { chatMlWithPrefill } from "../task/prompt.js";
import { badParam } from "./api-error.js";
import type { ServeLimits } from "./limits.js";

const ROLES = new Set(["system", "developer", "user", "assistant"]);

/** OpenAI content: a string, or a list of {type: "text", text} parts (joined). */
function contentText(content: unknown, index: number): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content) && content.every((p) => p?.type === "text" && typeof p.text === "string"))
    return content.map((p) => p.text as string).join("");
  throw badParam(`messages[${index}].content`, "content must be a string or a list of text parts");
}

export function chatMessages(value: unknown, limits: ServeLimits): ChatMessage[] {
  if (!Array.isArray(value) || value.length === 0)
    throw badParam("messages", "messages must be a non-empty list");
  if (value.length > limits.maxMessages)
    throw badParam("messages", `at most ${limits.maxMessages} messages, got ${value.length}`);
  let chars = 0;
  const messages = value.map((m, i) => {
    const role = (m as { role?: unknown })?.role;
    if (typeof role !== "string" || !ROLES.has(role))
      throw badParam(`messages[${i}].role`, `role must be one of ${[...ROLES].join(", ")}`);
    const content = contentText((m as { content?: unknown }).content, i);
    chars += content.length;
    // "developer" is OpenAI's newer name for the system role; templates know only "system".
    return { role: role === "developer" ? "system" : role, content };
  });
  if (chars > limits.maxPromptChars)
    throw badParam(
      "messages",
      `messages hold ${chars} characters, above the limit of ${limits.maxPromptChars}`,
    );
  return messages;
}

function flag(body: Record<string, unknown>, name: string): boolean | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw badParam(name, `${name} must be true or false`);
  return value;
}

export function renderChat(
  tokenizer: Tokenizer,
  messages: readonly ChatMessage[],
  body: Record<string, unknown>,
): string {
  const endsWithReply = messages[messages.length - 1]?.role === "assistant";
  const continueFinal = flag(body, "continue_final_message") ?? endsWithReply;
  const addGenerationPrompt = flag(body, "add_generation_prompt") ?? !continueFinal;
  if (continueFinal && addGenerationPrompt)
    throw badParam(
      "continue_final_message",
      "continue_final_message and add_generation_prompt exclude each other",
    );
  if (continueFinal && !endsWithReply)
    throw badParam("continue_final_message", "continue_final_message needs a final assistant message");
  if (tokenizer.chatTemplate !== null) {
    try {
      return applyChatTemplate(tokenizer, messages, {
        addGenerationPrompt,
        continueFinalMessage: continueFinal,
      });
    } catch (error) {
      throw badParam("messages", (error as Error).message, "chat_template_error");
    }
  }
  // chatMlWithPrefill leaves a final assistant message open (a prefill); close it unless continued.
  if (continueFinal) return chatMlWithPrefill(messages);
  const closed = chatMlWithPrefill(messages) + (endsWithReply ? "<|im_end|>\n" : "");
  return addGenerationPrompt ? `${closed}<|im_start|>assistant\n` : closed;
}
