/**
 * Where a local server (dashboard, serve) listens. Both have no authentication, so they listen on
 * the loopback interface unless told otherwise, and say so when told to listen elsewhere.
 */

/** 127.0.0.0/8, ::1 and localhost. */
export function isLoopbackHost(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/.test(host);
}

/**
 * The Host header names (port removed) a server bound to a loopback `host` answers, or null for
 * any other host. Refusing the rest keeps a web page on another origin from reaching the server
 * through DNS rebinding.
 */
export function loopbackHostNames(host: string): Set<string> | null {
  return isLoopbackHost(host) ? new Set(["127.0.0.1", "localhost", "[::1]", "::1", host]) : null;
}

/** The warning for a server on a non-loopback host (`exposes`: what anyone reaching it can do), or null. */
export function exposureWarning(command: string, host: string, exposes: string): string | null {
  if (isLoopbackHost(host)) return null;
  const where = ["0.0.0.0", "::", "[::]"].includes(host) ? "every network interface" : host;
  return `${command}: warning: listening on ${where}: anyone who can reach this port ${exposes}`;
}
