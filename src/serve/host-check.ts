/**
 * Where the server listens. It runs a model for anyone who can reach the port and has no
 * authentication, so it listens on the loopback interface unless told otherwise, and says so when
 * told to listen on every interface.
 */

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;
const EVERY_INTERFACE = new Set(["0.0.0.0", "::", "[::]"]);

/** A warning for a host other than loopback, or null. */
export function hostWarning(host: string): string | null {
  if (LOOPBACK.test(host)) return null;
  const what = EVERY_INTERFACE.has(host) ? "every network interface" : host;
  return `serve: listening on ${what}: anyone who can reach this port can use the model (there is no authentication)`;
}
