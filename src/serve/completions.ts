/**
 * POST /v1/chat/completions and /v1/completions: check the request, render and tokenize its
 * prompt, wait for its batch in the queue, and answer in one JSON reply or as server-sent events.
 */
import type { ServerResponse } from "node:http";
import type { Tokenizer } from "../model/tokenizer.js";
import { ApiError, badParam } from "./api-error.js";
import type { GeneratedChoice, GenerationQueue } from "./generation-queue.js";
import type { ServeLimits } from "./limits.js";
import { chatMessages, renderChat } from "./render-chat.js";
import { chunkReply, completionReply, type Endpoint, replyHeader, usageChunk, usageOf } from "./responses.js";
import { samplingParams } from "./sampling-params.js";
import { tokenPieces } from "./text-pieces.js";

export interface CompletionContext {
  tokenizer: Tokenizer;
  queue: GenerationQueue;
  modelName: string;
  limits: ServeLimits;
  /** Prompt plus completion tokens may not pass this (the model's max_position_embeddings). */
  contextLength: number;
}

function promptText(endpoint: Endpoint, body: Record<string, unknown>, ctx: CompletionContext): string {
  if (endpoint === "chat") return renderChat(ctx.tokenizer, chatMessages(body.messages, ctx.limits), body);
  // A list holding one prompt is what many clients send; several prompts per request are not supported.
  const prompt = Array.isArray(body.prompt) && body.prompt.length === 1 ? body.prompt[0] : body.prompt;
  if (typeof prompt !== "string" || prompt.length === 0)
    throw badParam("prompt", "prompt must be a non-empty string (one prompt per request)");
  if (prompt.length > ctx.limits.maxPromptChars)
    throw badParam(
      "prompt",
      `prompt has ${prompt.length} characters, above the limit of ${ctx.limits.maxPromptChars}`,
    );
  return prompt;
}

function checkModel(body: Record<string, unknown>, modelName: string): void {
  if (typeof body.model !== "string")
    throw badParam("model", "model is required (a string)", "missing_model");
  if (body.model !== modelName)
    throw new ApiError(
      404,
      `The model '${body.model}' does not exist; this server serves '${modelName}'`,
      "invalid_request_error",
      "model",
      "model_not_found",
    );
}

export async function handleCompletion(
  endpoint: Endpoint,
  body: Record<string, unknown>,
  res: ServerResponse,
  ctx: CompletionContext,
): Promise<void> {
  checkModel(body, ctx.modelName);
  const params = samplingParams(body, ctx.limits);
  if (body.stream !== undefined && typeof body.stream !== "boolean")
    throw badParam("stream", "stream must be true or false");
  const promptIds = ctx.tokenizer.encode(promptText(endpoint, body, ctx));
  if (promptIds.length === 0)
    throw badParam(endpoint === "chat" ? "messages" : "prompt", "the prompt is empty");
  // Without max_tokens a reply may run to the cap or to the end of the context, whichever is first.
  if (body.max_tokens == null && body.max_completion_tokens == null)
    params.maxTokens = Math.max(1, Math.min(params.maxTokens, ctx.contextLength - promptIds.length));
  if (promptIds.length + params.maxTokens > ctx.contextLength)
    throw badParam(
      "max_tokens",
      `the prompt's ${promptIds.length} tokens plus max_tokens ${params.maxTokens} pass the model's context of ${ctx.contextLength}`,
      "context_length_exceeded",
    );
  const choices = await ctx.queue.submit(promptIds, params);
  const header = replyHeader(endpoint, ctx.modelName);
  const usage = usageOf(promptIds.length, choices);
  if (body.stream !== true) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(completionReply(endpoint, header, choices, usage)));
    return;
  }
  const includeUsage =
    (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  writeStream(endpoint, header, choices, includeUsage ? usage : null, res, ctx.tokenizer);
}

function writeStream(
  endpoint: Endpoint,
  header: ReturnType<typeof replyHeader>,
  choices: readonly GeneratedChoice[],
  usage: ReturnType<typeof usageOf> | null,
  res: ServerResponse,
  tokenizer: Tokenizer,
): void {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  choices.forEach((choice, index) => {
    if (endpoint === "chat") send(chunkReply(endpoint, header, index, { first: true, text: "" }));
    for (const text of tokenPieces(tokenizer, choice.tokenIds, choice.text))
      send(chunkReply(endpoint, header, index, { text }));
    send(chunkReply(endpoint, header, index, { finish: choice }));
  });
  if (usage !== null) send(usageChunk(endpoint, header, usage));
  res.end("data: [DONE]\n\n");
}
