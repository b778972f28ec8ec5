/**
 * A finished choice cut into one piece per token, for streaming. The sampler has no per-token
 * callback, so a streamed reply is sent once its batch is generated; the pieces still follow the
 * tokens, as a streaming client expects, and always join to exactly the non-streamed text (the
 * stop string left out, a token split inside a UTF-8 character sent with the next one).
 */
import type { TokenDecoder } from "../model/stop-criteria.js";

export function tokenPieces(tokenizer: TokenDecoder, tokenIds: readonly number[], text: string): string[] {
  const pieces: string[] = [];
  let sent = 0;
  for (let k = 1; k <= tokenIds.length && sent < text.length; k++) {
    const prefix = tokenizer.decode(tokenIds.slice(0, k), { skipSpecialTokens: true });
    // A prefix ending in half a character decodes to U+FFFD, which is not part of the text yet.
    const ready = prefix.endsWith("\uFFFD") ? prefix.length - 1 : prefix.length;
    const end = Math.min(ready, text.length);
    if (end > sent && text.startsWith(prefix.slice(sent, end), sent)) {
      pieces.push(text.slice(sent, end));
      sent = end;
    }
  }
  if (sent < text.length) pieces.push(text.slice(sent));
  return pieces;
}
