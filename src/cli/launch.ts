/**
 * `wordle-grpo train --nproc N`: start N local ranks of the same command, as torchrun does, and
 * see them through to the end.
 *
 * Each child gets the torchrun environment (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR 127.0.0.1,
 * a free MASTER_PORT) and an even share of the CPU cores (OMP_NUM_THREADS), unless the user set
 * threads. Signals: Ctrl-C / SIGTERM here are passed on once as SIGTERM (the ranks agree on a
 * step, rank 0 saves, all exit); a second one passes SIGTERM again, which ends them at once. The
 * children ignore the terminal's own SIGINT (it reaches the whole process group) so that one
 * Ctrl-C is one stop request. A rank that exits with an error or a signal stops the others.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { availableParallelism } from "node:os";

/** Set in the children: they were started by this launcher (signals come from it). */
export const LAUNCHED_ENV = "WORDLE_GRPO_LAUNCHED";

/** Seconds the launcher gives the other ranks to exit after one failed, before SIGKILL. */
const GRACE_SECONDS = 30;

/** A TCP port that was free a moment ago on 127.0.0.1 (rank 0 binds it for the rendezvous). */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

/** The arguments the children run: this command's, without --nproc and its value. */
export function childArguments(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--nproc") {
      i++;
      continue;
    }
    if (arg.startsWith("--nproc=")) continue;
    out.push(arg);
  }
  return out;
}

/**
 * Runs `nproc` ranks of this process's command line and resolves with the exit code the launcher
 * should end with: 0 when every rank exited 0, else the first failing rank's code (or 1).
 */
export async function launchLocalRanks(nproc: number, threadsPerRank?: number): Promise<number> {
  const port = await freePort();
  const threads = threadsPerRank ?? Math.max(1, Math.floor(availableParallelism() / nproc));
  const args = [...process.execArgv, process.argv[1], ...childArguments(process.argv.slice(2))];
  const children: ChildProcess[] = [];
  const exits: Promise<{ rank: number; code: number | null; signal: NodeJS.Signals | null }>[] = [];
  for (let rank = 0; rank < nproc; rank++) {
    const child = spawn(process.execPath, args, {
      env: {
        ...process.env,
        RANK: String(rank),
        LOCAL_RANK: String(rank),
        WORLD_SIZE: String(nproc),
        LOCAL_WORLD_SIZE: String(nproc),
        MASTER_ADDR: "127.0.0.1",
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? String(threads),
        [LAUNCHED_ENV]: "1",
      },
      // Rank 0 speaks for the run; the others' stderr stays visible for their errors.
      stdio: ["ignore", rank === 0 ? "inherit" : "ignore", "inherit"],
    });
    children.push(child);
    exits.push(new Promise((resolve) => child.on("exit", (code, signal) => resolve({ rank, code, signal }))));
  }

  const signalAll = (signal: NodeJS.Signals) => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  const forward = () => signalAll("SIGTERM");
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);

  let failure: { rank: number; code: number } | null = null;
  let killTimer: NodeJS.Timeout | null = null;
  try {
    const pending = new Set(exits.map((_, rank) => rank));
    while (pending.size > 0) {
      const done = await Promise.race([...pending].map((rank) => exits[rank]));
      pending.delete(done.rank);
      if ((done.code ?? 1) !== 0 && failure === null) {
        failure = { rank: done.rank, code: done.code ?? 1 };
        const how = done.signal ? `was killed by ${done.signal}` : `exited with code ${done.code}`;
        process.stderr.write(
          `wordle-grpo: rank ${done.rank} ${how}; stopping the other ${pending.size} rank(s)\n`,
        );
        signalAll("SIGTERM");
        killTimer = setTimeout(() => signalAll("SIGKILL"), GRACE_SECONDS * 1000);
      }
    }
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off("SIGINT", forward);
    process.off("SIGTERM", forward);
  }
  return failure === null ? 0 : failure.code === 0 ? 1 : failure.code;
}
