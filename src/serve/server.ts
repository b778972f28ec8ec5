/**
 * The OpenAI-compatible HTTP server of `wordle-grpo serve` (node:http): GET /v1/models,
 * POST /v1/chat/completions and /v1/completions, GET /health. Every refusal is a 4xx in OpenAI's
 * error shape; anything unexpected is a 500 in the same shape, and the server goes on.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { GenerationModel } from "../model/sampler.js";
import type { Tokenizer } from "../model/tokenizer.js";
import { ApiError } from "./api-error.js";
import { type CompletionContext, handleCompletion } from "./completions.js";
import { GenerationQueue } from "./generation-queue.js";
import { DEFAULT_LIMITS, type ServeLimits } from "./limits.js";
import { modelBatchRunner } from "./model-runner.js";
import { readJsonBody } from "./read-body.js";

export interface ServeOptions {
  model: GenerationModel;
  tokenizer: Tokenizer;
  /** The name clients give as `model`. */
  modelName: string;
  limits?: Partial<ServeLimits>;
  /** How long a request waits for others to share its batch (default 5 ms). */
  batchWindowMs?: number;
  /** Most prompts per generate call (default 64). */
  maxBatchPrompts?: number;
  onBatch?: (prompts: number) => void;
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
}

export interface RunningServer {
  /** http://host:port, without a trailing slash. */
  url: string;
  port: number;
  /** Stop listening, refuse waiting requests, end open connections. */
  close(): Promise<void>;
}

const ROUTES: Record<string, { method: string; endpoint?: "chat" | "text" }> = {
  "/v1/models": { method: "GET" },
  "/v1/chat/completions": { method: "POST", endpoint: "chat" },
  "/v1/completions": { method: "POST", endpoint: "text" },
  "/health": { method: "GET" },
};

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const limits: ServeLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const queue = new GenerationQueue(modelBatchRunner(options.model, options.tokenizer), {
    windowMs: options.batchWindowMs ?? 5,
    maxWaiting: limits.maxQueuedRequests,
    maxBatchPrompts: options.maxBatchPrompts ?? 64,
    onBatch: options.onBatch,
  });
  const ctx: CompletionContext = {
    tokenizer: options.tokenizer,
    queue,
    modelName: options.modelName,
    limits,
    contextLength: options.model.config.maxPositionEmbeddings,
  };
  const created = Math.floor(Date.now() / 1000);
  const modelCard = { id: options.modelName, object: "model", created, owned_by: "wordle-grpo" };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "") || "/";
    if (path === `/v1/models/${options.modelName}` && req.method === "GET")
      return sendJson(res, 200, modelCard);
    const route = ROUTES[path];
    if (route === undefined)
      throw new ApiError(404, `no route ${path}`, "invalid_request_error", null, "not_found");
    if (req.method !== route.method)
      throw new ApiError(
        405,
        `${path} takes ${route.method}, not ${req.method}`,
        "invalid_request_error",
        null,
        "method_not_allowed",
      );
    if (path === "/health") return sendJson(res, 200, { status: "ok" });
    if (route.endpoint === undefined) return sendJson(res, 200, { object: "list", data: [modelCard] });
    const body = await readJsonBody(req, limits.maxBodyBytes);
    await handleCompletion(route.endpoint, body, res, ctx);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const apiError =
        error instanceof ApiError
          ? error
          : new ApiError(500, `internal error: ${(error as Error).message}`, "server_error");
      // A refused body may still be arriving: close the connection rather than read it all.
      if (apiError.status === 413) res.setHeader("connection", "close");
      sendJson(res, apiError.status, apiError.body());
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        queue.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
