/**
 * A model behind an OpenAI-compatible server (`wordle-grpo serve`, vLLM, llama.cpp, a hosted API)
 * as an evaluation policy. Each position becomes the chat messages of the task's prompt template
 * (task/prompt.ts: the same messages the local model policy renders), sent to
 * /v1/chat/completions; the server applies its model's chat template. A template that pre-fills
 * the reply (course, compact) sends it as a final assistant message with vLLM's
 * continue_final_message. The guess is read with the training parser, as for a local model.
 *
 * OpenAI servers leave the stop string out of the text, but the parser needs `</guess>`: it is
 * put back when the server says it stopped there (stop_reason, as vLLM and our server report), or,
 * for servers that do not say, when the reply stopped with a `<guess>` still open.
 */
import { parseGuess } from "../task/parse-guess.js";
import { type PromptTemplateName, promptMessages } from "../task/prompt.js";
import { type EndpointClientOptions, mapConcurrently, postJson } from "./endpoint-client.js";
import type { LoadedPolicy } from "./load-policy.js";
import type { GuessPolicy, PolicyMove, PolicyState } from "./policy.js";

export interface EndpointPolicyOptions extends EndpointClientOptions {
  /** The server's base URL, with or without the trailing /v1. */
  endpoint: string;
  /** The model name the server knows it by. */
  servedModel: string;
  template?: PromptTemplateName;
  showRefused?: boolean;
  /** Sampling: without a temperature, greedy (temperature 0). */
  temperature?: number;
  topP?: number;
  topK?: number;
  maxNewTokens?: number;
  /** Sampled runs send seed + a per-position offset, for servers that honour seeds. */
  seed?: number;
  /** Requests in flight at once (default 8). */
  concurrency?: number;
}

const STOP = "</guess>";

/** `http://host:8000`, `http://host:8000/` and `http://host:8000/v1` all mean the same API root. */
export function apiRoot(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`--endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new Error(`--endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  const base = url.href.replace(/\/+$/, "");
  return base.endsWith("/v1") ? base : `${base}/v1`;
}

interface ChatChoice {
  message?: { content?: unknown };
  finish_reason?: unknown;
  stop_reason?: unknown;
}

/** The reply's text with the stop string put back where the server stopped on it. */
export function completionText(choice: ChatChoice): string {
  const content = typeof choice.message?.content === "string" ? choice.message.content : "";
  if (choice.finish_reason !== "stop") return content;
  if (choice.stop_reason === STOP) return content + STOP;
  const unclosedGuess = content.lastIndexOf("<guess>") > content.lastIndexOf(STOP);
  return choice.stop_reason === undefined && unclosedGuess ? content + STOP : content;
}

export function endpointPolicy(options: EndpointPolicyOptions): GuessPolicy {
  const url = `${apiRoot(options.endpoint)}/chat/completions`;
  const template = options.template ?? "course";
  const greedy = options.temperature === undefined;
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`endpoint policy: concurrency must be a positive integer, got ${concurrency}`);
  const sampling = greedy
    ? { temperature: 0 }
    : {
        temperature: options.temperature,
        ...(options.topP !== undefined ? { top_p: options.topP } : {}),
        ...(options.topK ? { top_k: options.topK } : {}),
      };
  const move = async (state: PolicyState): Promise<PolicyMove> => {
    const messages = promptMessages(
      { history: state.history, refused: options.showRefused ? state.refused : undefined },
      template,
    );
    const prefilled = messages[messages.length - 1]?.role === "assistant";
    const reply = (await postJson(
      url,
      {
        model: options.servedModel,
        messages,
        ...sampling,
        max_tokens: options.maxNewTokens ?? 128,
        stop: [STOP],
        ...(greedy ? {} : { seed: (options.seed ?? 0) + state.game * 16 + state.turn }),
        ...(prefilled ? { continue_final_message: true, add_generation_prompt: false } : {}),
      },
      options,
    )) as { choices?: ChatChoice[] };
    const choice = reply.choices?.[0];
    if (choice === undefined) throw new Error(`${url}: the answer has no choices`);
    const completion = completionText(choice);
    return { completion, guess: parseGuess(completion) };
  };
  return {
    name: `endpoint ${options.servedModel}`,
    decoding: greedy
      ? "greedy (temperature 0)"
      : `sampled (T=${options.temperature}, seed ${options.seed ?? 0})`,
    next: (states) => mapConcurrently(states, concurrency, move),
  };
}

/** The endpoint as eval's loaded policy (nothing to release). */
export function endpointLoadedPolicy(options: EndpointPolicyOptions): LoadedPolicy {
  return {
    policy: endpointPolicy(options),
    dispose: () => {},
    description: `endpoint ${apiRoot(options.endpoint)} model ${options.servedModel}`,
  };
}
