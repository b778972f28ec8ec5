/**
 * SIGINT and SIGTERM stop the server cleanly: stop listening, refuse what waits in the queue,
 * release the model, exit 0. A batch being generated cannot be interrupted (it runs on this very
 * thread), so the signal is handled right after it. A second signal, or a close that hangs past
 * the deadline, ends the process by the signal's default action.
 */
const SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM"];

export function stopOnSignals(close: () => Promise<void>, deadlineMs = 5000): void {
  let stopping = false;
  const die = (signal: NodeJS.Signals) => {
    for (const s of SIGNALS) process.off(s, onSignal);
    process.kill(process.pid, signal);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return die(signal);
    stopping = true;
    process.stderr.write(`serve: ${signal}, stopping\n`);
    const deadline = setTimeout(() => die(signal), deadlineMs);
    close().then(
      () => {
        clearTimeout(deadline);
        process.exit(0);
      },
      (error: unknown) => {
        process.stderr.write(`serve: closing failed (${(error as Error).message})\n`);
        die(signal);
      },
    );
  };
  for (const s of SIGNALS) process.on(s, onSignal);
}
