import { SIGNAL_EXIT_DEADLINE_MS } from "./limits.js";

const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

/**
 * Makes SIGINT and SIGTERM always end the process. The first signal runs `close` (stop polling,
 * end the event streams, close the listener) and exits 0 when it is done. If it is not done
 * within `deadlineMs`, or a second signal arrives, the process dies by the signal itself (its
 * default action). That, unlike `process.exit()`, cannot hang: exit() joins libuv's worker
 * threads first, and one stuck in a system call (such as opening a FIFO with no writer) would
 * keep the process alive forever.
 */
export function stopOnSignals(
  close: () => Promise<void>,
  deadlineMs = SIGNAL_EXIT_DEADLINE_MS,
  log: (message: string) => void = (message) => process.stderr.write(`${message}\n`),
): void {
  let stopping = false;
  const dieBy = (signal: NodeJS.Signals): void => {
    for (const s of SIGNALS) process.off(s, onSignal);
    process.kill(process.pid, signal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      dieBy(signal);
      return;
    }
    stopping = true;
    const deadline = setTimeout(() => {
      log(`dashboard: not closed ${deadlineMs} ms after ${signal}; stopping now`);
      dieBy(signal);
    }, deadlineMs);
    close().then(
      () => {
        clearTimeout(deadline);
        process.exit(0);
      },
      (err: unknown) => {
        clearTimeout(deadline);
        log(`dashboard: closing failed (${err instanceof Error ? err.message : String(err)}); stopping now`);
        dieBy(signal);
      },
    );
  };
  for (const s of SIGNALS) process.on(s, onSignal);
}
