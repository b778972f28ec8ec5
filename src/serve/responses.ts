/**
 * Replies in OpenAI's JSON shapes: chat.completion, text_completion and their streamed chunks.
 * `stop_reason` (the stop string that ended a choice) is vLLM's extension: OpenAI leaves the stop
 * string out of the text, and a client that needs it back (evaluation reads `</guess>`) can see it.
 */
import { randomBytes } from "node:crypto";
import type { GeneratedChoice } from "./generation-queue.js";

export type Endpoint = "chat" | "text";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ReplyHeader {
  id: string;
  created: number;
  model: string;
}

export function replyHeader(endpoint: Endpoint, model: string): ReplyHeader {
  return {
    id: `${endpoint === "chat" ? "chatcmpl" : "cmpl"}-${randomBytes(12).toString("hex")}`,
    created: Math.floor(Date.now() / 1000),
    model,
  };
}

export function usageOf(promptTokens: number, choices: readonly GeneratedChoice[]): Usage {
  const completion = choices.reduce((n, c) => n + c.tokenIds.length, 0);
  return {
    prompt_tokens: promptTokens,
    completion_tokens: completion,
    total_tokens: promptTokens + completion,
  };
}

export function completionReply(
  endpoint: Endpoint,
  header: ReplyHeader,
  choices: readonly GeneratedChoice[],
  usage: Usage,
): Record<string, unknown> {
  return {
    ...header,
    object: endpoint === "chat" ? "chat.completion" : "text_completion",
    choices: choices.map((c, index) => ({
      index,
      ...(endpoint === "chat" ? { message: { role: "assistant", content: c.text } } : { text: c.text }),
      logprobs: null,
      finish_reason: c.finishReason,
      stop_reason: c.stopReason,
    })),
    usage,
  };
}

/** One streamed chunk: a piece of one choice's text, or (with a finish reason) its end. */
export function chunkReply(
  endpoint: Endpoint,
  header: ReplyHeader,
  index: number,
  piece: { text?: string; first?: boolean; finish?: GeneratedChoice },
): Record<string, unknown> {
  const finish = piece.finish;
  const choice =
    endpoint === "chat"
      ? {
          index,
          delta: finish
            ? {}
            : piece.first
              ? { role: "assistant", content: piece.text ?? "" }
              : { content: piece.text ?? "" },
        }
      : { index, text: piece.text ?? "" };
  return {
    ...header,
    object: endpoint === "chat" ? "chat.completion.chunk" : "text_completion",
    choices: [
      {
        ...choice,
        logprobs: null,
        finish_reason: finish?.finishReason ?? null,
        ...(finish ? { stop_reason: finish.stopReason } : {}),
      },
    ],
  };
}

/** The closing chunk of stream_options.include_usage: no choices, the request's usage. */
export function usageChunk(endpoint: Endpoint, header: ReplyHeader, usage: Usage): Record<string, unknown> {
  return {
    ...header,
    object: endpoint === "chat" ? "chat.completion.chunk" : "text_completion",
    choices: [],
    usage,
  };
}
