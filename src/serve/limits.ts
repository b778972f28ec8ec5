/**
 * What one request may ask of the server. Generation runs on the process's only JS thread, so a
 * single oversized request (a huge prompt, thousands of tokens times n = 100) would stall every
 * other client: each limit is refused up front with a 4xx naming it.
 */
export interface ServeLimits {
  /** Request body bytes (413 beyond). */
  maxBodyBytes: number;
  /** max_tokens cap, and the default when a request gives none. */
  maxTokens: number;
  /** Completions per request (n). */
  maxChoices: number;
  /** Messages per chat request. */
  maxMessages: number;
  /** Characters of all message contents (or of a completions prompt) together. */
  maxPromptChars: number;
  /** Stop strings per request, as OpenAI allows. */
  maxStopStrings: number;
  /** Requests waiting for the model; beyond it new ones get 429 (the client should retry). */
  maxQueuedRequests: number;
}

export const DEFAULT_LIMITS: ServeLimits = {
  maxBodyBytes: 1024 * 1024,
  maxTokens: 512,
  maxChoices: 16,
  maxMessages: 256,
  maxPromptChars: 64 * 1024,
  maxStopStrings: 4,
  maxQueuedRequests: 256,
};
