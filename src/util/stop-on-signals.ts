const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

export interface StopOptions {
  /** How long `close` may take before the process ends by the signal anyway. */
  deadlineMs: number;
  /** Say "NAME: SIGTERM, stopping" when the first signal arrives. */
  announce?: boolean;
  log?: (message: string) => void;
}

/**
 * Makes SIGINT and SIGTERM always end a long-running command (`name`: dashboard, serve). The first
 * signal runs `close` (stop listening, end open streams, release the model) and exits 0 when it is
 * done. If it is not done within the deadline, or a second signal arrives, the process dies by the
 * signal itself (its default action). That, unlike `process.exit()`, cannot hang: exit() joins
 * libuv's worker threads first, and one stuck in a system call (such as opening a FIFO with no
 * writer) would keep the process alive forever. Work running on the JS thread (a batch being
 * generated) cannot be interrupted: the signal is handled right after it.
 */
export function stopOnSignals(name: string, close: () => Promise<void>, options: StopOptions): void {
  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
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
    if (options.announce) log(`${name}: ${signal}, stopping`);
    const deadline = setTimeout(() => {
      log(`${name}: not closed ${options.deadlineMs} ms after ${signal}; stopping now`);
      dieBy(signal);
    }, options.deadlineMs);
    close().then(
      () => {
        clearTimeout(deadline);
        process.exit(0);
      },
      (err: unknown) => {
        clearTimeout(deadline);
        log(`${name}: closing failed (${err instanceof Error ? err.message : String(err)}); stopping now`);
        dieBy(signal);
      },
    );
  };
  for (const s of SIGNALS) process.on(s, onSignal);
}
