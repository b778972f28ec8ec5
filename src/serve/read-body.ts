/** A request's JSON body, read up to a size limit (413 beyond it, 400 when not a JSON object). */
import type { IncomingMessage } from "node:http";
import { ApiError } from "./api-error.js";

export async function readJsonBody(req: IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const tooLarge = () =>
    new ApiError(
      413,
      `request body above ${maxBytes} bytes`,
      "invalid_request_error",
      null,
      "request_too_large",
    );
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Stop reading at once: a client streaming gigabytes must not fill the server's memory.
    if (size > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    throw new ApiError(
      400,
      `the body is not valid JSON (${(error as Error).message})`,
      "invalid_request_error",
      null,
      "invalid_json",
    );
  }
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw new ApiError(400, "the body must be a JSON object", "invalid_request_error", null, "invalid_json");
  return body as Record<string, unknown>;
}
