/**
 * File-system failures in words that name the path and the cause. Node's own messages can
 * mislead: a recursive mkdir under a read-only mount reports ENOENT ("no such file or directory"),
 * and a write that fails for a full disk names no file at all.
 */
import { accessSync, constants, existsSync } from "node:fs";
import { dirname } from "node:path";

/** The nearest existing ancestor of `path` (itself when it exists). */
function nearestExisting(path: string): string {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  return p;
}

/** Why `path` cannot be written, when the nearest existing folder above it refuses writes. */
function unwritableBecause(path: string): { code: string; where: string } | null {
  const where = nearestExisting(path);
  try {
    accessSync(where, constants.W_OK);
    return null;
  } catch (err) {
    return { code: (err as NodeJS.ErrnoException).code ?? "EACCES", where };
  }
}

const CAUSES: Record<string, (where: string) => string> = {
  EROFS: (where) => `the file system holding ${where} is read-only`,
  EACCES: (where) => `no permission to write in ${where}`,
  EPERM: (where) => `no permission to write in ${where}`,
  ENOSPC: (where) => `no space left on the device holding ${where}`,
  EDQUOT: (where) => `the disk quota for ${where} is used up`,
  ENOTDIR: (where) => `a part of ${where} is a file, not a folder`,
};

/** An Error saying what failed (`doing`, e.g. "append to"), on which path, and why. */
export function fileError(err: unknown, path: string, doing: string): Error {
  const e = err as NodeJS.ErrnoException;
  let code = e.code ?? "";
  let where = path;
  if (code === "ENOENT" || code === "EACCES" || code === "EPERM") {
    const refused = unwritableBecause(path);
    if (refused !== null) ({ code, where } = refused);
  }
  const cause = CAUSES[code]?.(where) ?? e.message ?? String(err);
  return new Error(`cannot ${doing} ${path}: ${cause}`, { cause: err });
}
