/**
 * OpenAI's sampling fields of a request, checked and turned into the sampler's settings.
 * temperature 0 means greedy (argmax) decoding, as vLLM and llama.cpp read it; absent, it is 1,
 * OpenAI's default. top_k is a vLLM extension (-1 or 0 = off).
 */
import { badParam } from "./api-error.js";
import type { ServeLimits } from "./limits.js";

export interface SamplingParams {
  greedy: boolean;
  temperature?: number;
  topP?: number;
  topK?: number;
  maxTokens: number;
  /** Generation stops once the text contains one of these; the reply leaves it out. */
  stop: string[];
  /** Completions per prompt. */
  n: number;
  seed?: number;
}

type Body = Record<string, unknown>;

function numberField(body: Body, name: string): number | undefined {
  const value = body[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value))
    throw badParam(name, `${name} must be a number, got ${JSON.stringify(value)}`);
  return value;
}

function integerField(body: Body, name: string, min: number, max: number): number | undefined {
  const value = numberField(body, name);
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max)
    throw badParam(name, `${name} must be an integer in [${min}, ${max}], got ${value}`);
  return value;
}

function stopField(body: Body, limits: ServeLimits): string[] {
  const value = body.stop;
  if (value === undefined || value === null) return [];
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || !list.every((s) => typeof s === "string" && s.length > 0))
    throw badParam("stop", "stop must be a non-empty string or a list of them");
  if (list.length > limits.maxStopStrings)
    throw badParam("stop", `stop takes at most ${limits.maxStopStrings} strings, got ${list.length}`);
  return [...new Set(list as string[])];
}

/** Features a client may rely on that this server does not have: refused rather than ignored. */
function refuseUnsupported(body: Body): void {
  for (const name of ["presence_penalty", "frequency_penalty"]) {
    const value = numberField(body, name);
    if (value !== undefined && value !== 0)
      throw badParam(name, `${name} is not supported (only 0)`, "unsupported_parameter");
  }
  if (body.logprobs === true || (typeof body.logprobs === "number" && body.logprobs > 0))
    throw badParam("logprobs", "logprobs are not supported", "unsupported_parameter");
  if (Array.isArray(body.tools) && body.tools.length > 0)
    throw badParam("tools", "tools are not supported", "unsupported_parameter");
}

export function samplingParams(body: Body, limits: ServeLimits): SamplingParams {
  refuseUnsupported(body);
  const temperature = numberField(body, "temperature") ?? 1;
  if (temperature < 0 || temperature > 2)
    throw badParam("temperature", `temperature must be in [0, 2], got ${temperature}`);
  const topP = numberField(body, "top_p");
  if (topP !== undefined && !(topP > 0 && topP <= 1))
    throw badParam("top_p", `top_p must be in (0, 1], got ${topP}`);
  const topK = integerField(body, "top_k", -1, Number.MAX_SAFE_INTEGER);
  // max_completion_tokens is the newer name of max_tokens in OpenAI's chat API.
  const maxTokensName = body.max_completion_tokens !== undefined ? "max_completion_tokens" : "max_tokens";
  const maxTokens = integerField(body, maxTokensName, 1, Number.MAX_SAFE_INTEGER) ?? limits.maxTokens;
  if (maxTokens > limits.maxTokens)
    throw badParam(
      maxTokensName,
      `${maxTokensName} is ${maxTokens}, above this server's limit of ${limits.maxTokens} (serve --max-tokens)`,
      "max_tokens_exceeded",
    );
  const n = integerField(body, "n", 1, limits.maxChoices) ?? 1;
  const seed = integerField(body, "seed", Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  const greedy = temperature === 0;
  return {
    greedy,
    ...(greedy
      ? {}
      : {
          temperature,
          topP: topP === 1 ? undefined : topP,
          topK: topK === undefined || topK <= 0 ? undefined : topK,
        }),
    maxTokens,
    stop: stopField(body, limits),
    n,
    ...(seed === undefined || greedy ? {} : { seed }),
  };
}

/** Requests whose settings give the same key can share one generate call. */
export function batchKey(params: SamplingParams): string {
  return JSON.stringify([
    params.greedy,
    params.temperature,
    params.topP,
    params.topK,
    params.maxTokens,
    params.stop,
    params.n,
    params.seed,
  ]);
}
