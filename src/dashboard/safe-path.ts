import { realpath } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";

/** Why a requested path was refused; the server maps these to HTTP statuses. */
export type PathRefusal = "bad-request" | "forbidden" | "not-found";

export type SafePathResult = { ok: true; path: string } | { ok: false; refusal: PathRefusal };

/**
 * Splits the raw (still percent-encoded) request path into decoded segments, refusing anything
 * that could step outside a folder: `.`/`..` segments (also when encoded as `%2e%2e`), empty
 * segments (`//etc`), and decoded slashes, backslashes or NUL inside a segment (`..%2f`).
 *
 * The raw path is used on purpose: `new URL()` would already have collapsed `..` and `%2e%2e`,
 * silently turning an attack into a different, valid-looking path.
 */
export function splitRawPath(
  rawPath: string,
): { ok: true; segments: string[] } | { ok: false; refusal: PathRefusal } {
  const segments: string[] = [];
  for (const raw of rawPath.split("/")) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return { ok: false, refusal: "bad-request" };
    }
    if (segment === "" || segment === "." || segment === "..") return { ok: false, refusal: "forbidden" };
    if (/[/\\\0]/.test(segment)) return { ok: false, refusal: "forbidden" };
    segments.push(segment);
  }
  return { ok: true, segments };
}

function inside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

/**
 * Resolves `segments` under `root` to an existing path whose real location (after following every
 * symlink) is still inside the real `root`. A symlink pointing out of the run directory is refused.
 * What kind of file it is, is for the caller to check when opening it (`openRegularFile`), so
 * that the check and the open see the same file and a FIFO is refused by name.
 */
export async function resolveFileInside(root: string, segments: string[]): Promise<SafePathResult> {
  const candidate = join(root, ...segments);
  if (!inside(root, candidate)) return { ok: false, refusal: "forbidden" };
  let realRoot: string;
  let realTarget: string;
  try {
    realRoot = await realpath(root);
    realTarget = await realpath(candidate);
  } catch {
    return { ok: false, refusal: "not-found" };
  }
  if (!inside(realRoot, realTarget)) return { ok: false, refusal: "forbidden" };
  return { ok: true, path: realTarget };
}
