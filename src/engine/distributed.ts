// Data-parallel training as torchrun runs it: one process per rank, a process group over
// libtorch's c10d (native/src/distributed*.cc), gloo on the CPU and nccl on CUDA builds.
//
// Every collective is synchronous (it returns when this rank has the result) and waits at most the
// group's timeout. A rank that dies makes the others' collectives fail instead of hang; the error
// then names the lost rank where it can be known. For that each rank records its pid and host in
// the group's store when the group forms: the store lives in rank 0, so a store that no longer
// answers means rank 0 is gone, and a rank on this host whose process has ended is gone.
import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { fromBytes, tensor } from "./create.js";
import { checkDevice, type Device } from "./dtype.js";
import { type Handle, native } from "./native.js";
import { scope } from "./scope.js";
import { adoptHandle, type Tensor } from "./tensor.js";

export type DistributedBackend = "gloo" | "nccl";
export type ReduceOp = "sum" | "max" | "min";

export interface ProcessGroupOptions {
  rank: number;
  worldSize: number;
  /** This rank's index on its machine (torchrun's LOCAL_RANK); picks the GPU for nccl. Default: rank. */
  localRank?: number;
  /** Where rank 0 serves the group's store (a TCPStore). */
  masterAddr: string;
  masterPort: number;
  /** "auto" (the default): nccl for a CUDA device, gloo otherwise. */
  backend?: "auto" | DistributedBackend;
  /** How long forming the group, or any collective, may wait for the other ranks. Default 1800 (torch's). */
  timeoutSeconds?: number;
  /** Where this rank's tensors live. Default: cuda:<localRank> for backend nccl, else cpu. */
  device?: Device;
}

/** The torchrun contract, read from the environment. */
export interface DistributedEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
}

/** What fromEnv leaves to the caller: everything but the environment's part. */
export type ProcessGroupEnvOptions = Omit<
  ProcessGroupOptions,
  "rank" | "worldSize" | "localRank" | "masterAddr" | "masterPort"
>;

/** A collective or store operation failed because of another rank (or the store). */
/** How allGatherJson encodes and decodes values (JSON.stringify's replacer, JSON.parse's reviver). */
export interface JsonCodec {
  replacer?: (key: string, value: unknown) => unknown;
  reviver?: (key: string, value: unknown) => unknown;
}

export class DistributedError extends Error {
  /** The rank found gone, or null when it cannot be told. */
  readonly lostRank: number | null;
  constructor(message: string, lostRank: number | null, cause: unknown) {
    super(message, { cause });
    this.name = "DistributedError";
    this.lostRank = lostRank;
  }
}

/** The addon's c10d functions (native/src/distributed.cc); groups are integer ids. */
interface DistributedNative {
  distributedBackends(): { gloo: boolean; nccl: boolean };
  distCreate(options: {
    backend: DistributedBackend;
    rank: number;
    worldSize: number;
    masterAddr: string;
    masterPort: number;
    timeoutMs: number;
    device: string;
  }): number;
  distAllReduce(group: number, t: Handle, op: ReduceOp): void;
  distAllReduceFlat(group: number, ts: Handle[], op: ReduceOp): void;
  distBroadcast(group: number, t: Handle, root: number): void;
  distAllGather(group: number, t: Handle): Handle[];
  distBarrier(group: number): void;
  distStoreSet(group: number, key: string, value: string): void;
  distStoreGet(group: number, key: string, timeoutMs: number): string;
  distStoreCheck(group: number, key: string): boolean;
  distDestroy(group: number): void;
}

const addon = native as unknown as DistributedNative;

/** The code the addon puts on errors caused by the peers or the store, not by the arguments. */
const COMMUNICATION_ERROR = "ERR_WORDLE_COMMUNICATION";
const DEFAULT_TIMEOUT_SECONDS = 1800;
/** How long a failure report waits for a peer's process to finish exiting (its sockets close first). */
const EXIT_GRACE_MS = 1000;
const REDUCE_OPS: readonly string[] = ["sum", "max", "min"];

/** Which backends this build of the addon has (gloo needs libgloo-dev, nccl a CUDA libtorch with NCCL). */
export function distributedBackends(): { gloo: boolean; nccl: boolean } {
  return addon.distributedBackends();
}

// ------------------------------------------------------------------------------ environment

function envInteger(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number | undefined {
  const text = env[name];
  if (text === undefined || text === "") return undefined;
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!(value >= min && value <= max)) {
    throw new Error(
      `distributed environment: ${name}=${JSON.stringify(text)} is not an integer from ${min} to ${max}`,
    );
  }
  return value;
}

function requireEnv<T>(value: T | undefined, name: string): T {
  if (value === undefined) {
    throw new Error(
      `distributed environment: WORLD_SIZE is set but ${name} is not (torchrun sets RANK, WORLD_SIZE, ` +
        "LOCAL_RANK, MASTER_ADDR and MASTER_PORT)",
    );
  }
  return value;
}

/**
 * Reads torchrun's variables: RANK, WORLD_SIZE, LOCAL_RANK (default RANK), MASTER_ADDR,
 * MASTER_PORT (and checks LOCAL_WORLD_SIZE when set). Null when WORLD_SIZE is unset (not a
 * distributed run); throws, naming the variable, when a value is malformed or they disagree.
 */
export function distributedEnv(env: NodeJS.ProcessEnv = process.env): DistributedEnv | null {
  const worldSize = envInteger(env, "WORLD_SIZE", 1, 1 << 20);
  if (worldSize === undefined) return null;
  const rank = requireEnv(envInteger(env, "RANK", 0, 1 << 20), "RANK");
  if (rank >= worldSize) {
    throw new Error(
      `distributed environment: RANK=${rank} is not below WORLD_SIZE=${worldSize} (ranks are 0 to ${worldSize - 1})`,
    );
  }
  const localRank = envInteger(env, "LOCAL_RANK", 0, 1 << 20) ?? rank;
  if (localRank > rank) {
    throw new Error(
      `distributed environment: LOCAL_RANK=${localRank} is above RANK=${rank} (a rank's index on its machine cannot exceed its global rank)`,
    );
  }
  const localWorldSize = envInteger(env, "LOCAL_WORLD_SIZE", 1, worldSize);
  if (localWorldSize !== undefined && localRank >= localWorldSize) {
    throw new Error(
      `distributed environment: LOCAL_RANK=${localRank} is not below LOCAL_WORLD_SIZE=${localWorldSize}`,
    );
  }
  const masterAddr = requireEnv(env.MASTER_ADDR?.trim() || undefined, "MASTER_ADDR");
  const masterPort = requireEnv(envInteger(env, "MASTER_PORT", 1, 65535), "MASTER_PORT");
  return { rank, worldSize, localRank, masterAddr, masterPort };
}

// ------------------------------------------------------------------------------ liveness

interface RankInfo {
  pid: number;
  hostname: string;
}

const livenessKey = (rank: number): string => `liveness/${rank}`;
const HAS_PROC = existsSync("/proc/self/stat");

/** Whether a process has ended; a zombie (ended, not yet reaped by its parent) counts as ended. */
function processEnded(pid: number): boolean {
  if (HAS_PROC) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const state = stat.charAt(stat.lastIndexOf(")") + 2);
      return state === "Z" || state === "X";
    } catch {
      return true;
    }
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "ESRCH";
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function isCommunicationError(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === COMMUNICATION_ERROR;
}

// ------------------------------------------------------------------------------ the group

function resolveBackend(requested: ProcessGroupOptions["backend"], device: Device): DistributedBackend {
  const onCuda = device.startsWith("cuda");
  const backend = requested === undefined || requested === "auto" ? (onCuda ? "nccl" : "gloo") : requested;
  const available = distributedBackends();
  if (backend === "nccl") {
    if (!available.nccl) {
      const why = native.buildInfo().cudaBuild
        ? "its libtorch has CUDA but no NCCL"
        : "its libtorch has no CUDA";
      throw new Error(
        `process group: backend nccl is not available in this build (${why}); use backend gloo with device cpu`,
      );
    }
    if (!onCuda) throw new Error(`process group: backend nccl needs a CUDA device, not ${device}`);
  } else if (backend === "gloo") {
    if (!available.gloo) {
      throw new Error(
        "process group: backend gloo is not available in this build (install libgloo-dev, then npm run build:native)",
      );
    }
    if (device !== "cpu")
      throw new Error(`process group: backend gloo works on the CPU, not ${device} (use nccl)`);
  } else {
    throw new Error(`process group: unknown backend "${String(backend)}" (auto, gloo or nccl)`);
  }
  return backend;
}

function checkInteger(value: number, name: string, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`process group: ${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly backend: DistributedBackend;
  readonly device: Device;
  readonly timeoutSeconds: number;
  readonly masterAddr: string;
  readonly masterPort: number;
  private id: number | null;
  /** Every rank's pid and host, read from the store when the group formed. */
  private peers: readonly RankInfo[] = [];

  private constructor(options: Required<ProcessGroupOptions> & { backend: DistributedBackend }, id: number) {
    this.rank = options.rank;
    this.worldSize = options.worldSize;
    this.localRank = options.localRank;
    this.backend = options.backend;
    this.device = options.device;
    this.timeoutSeconds = options.timeoutSeconds;
    this.masterAddr = options.masterAddr;
    this.masterPort = options.masterPort;
    this.id = id;
  }

  /**
   * Joins the group: rank 0 serves the store at masterAddr:masterPort, every rank connects to it,
   * the backend connects the ranks, and each rank records its pid and host. Blocks until all
   * worldSize ranks have joined, or throws after timeoutSeconds.
   */
  static create(options: ProcessGroupOptions): ProcessGroup {
    const { rank, worldSize, masterAddr, masterPort } = options;
    checkInteger(worldSize, "worldSize", 1, 1 << 20);
    checkInteger(rank, "rank", 0, worldSize - 1);
    const localRank = options.localRank ?? rank;
    checkInteger(localRank, "localRank", 0, worldSize - 1);
    checkInteger(masterPort, "masterPort", 1, 65535);
    if (masterAddr === "") throw new Error("process group: masterAddr is empty");
    const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
    if (!(timeoutSeconds > 0 && Number.isFinite(timeoutSeconds))) {
      throw new Error(`process group: timeoutSeconds must be a positive number, got ${timeoutSeconds}`);
    }
    const device = checkDevice(options.device ?? (options.backend === "nccl" ? `cuda:${localRank}` : "cpu"));
    const backend = resolveBackend(options.backend, device);
    const timeoutMs = Math.max(1, Math.round(timeoutSeconds * 1000));
    const where = `rank ${rank} of ${worldSize}, ${backend}, store at ${masterAddr}:${masterPort}, timeout ${timeoutSeconds} s`;
    let id: number;
    try {
      id = addon.distCreate({ backend, rank, worldSize, masterAddr, masterPort, timeoutMs, device });
    } catch (err) {
      throw new Error(`process group (${where}): could not form the group: ${messageOf(err)}`, {
        cause: err,
      });
    }
    const group = new ProcessGroup(
      { rank, worldSize, localRank, masterAddr, masterPort, backend, timeoutSeconds, device },
      id,
    );
    try {
      group.registerLiveness(timeoutMs);
    } catch (err) {
      group.destroy();
      throw new Error(`process group (${where}): the ranks could not exchange pids: ${messageOf(err)}`, {
        cause: err,
      });
    }
    return group;
  }

  /** A group from torchrun's environment (see distributedEnv), or null when WORLD_SIZE is unset. */
  static fromEnv(
    env: NodeJS.ProcessEnv = process.env,
    options: ProcessGroupEnvOptions = {},
  ): ProcessGroup | null {
    const found = distributedEnv(env);
    return found === null ? null : ProcessGroup.create({ ...options, ...found });
  }

  get isDestroyed(): boolean {
    return this.id === null;
  }

  /** Reduces `t` over the ranks, in place: every rank ends with the sum (max, min). */
  allReduce(t: Tensor, op: ReduceOp = "sum"): void {
    checkReduceOp(op);
    this.communicate("allReduce", (id) => addon.distAllReduce(id, t.handle, op));
  }

  /**
   * Reduces several tensors (one dtype, one device; any shapes) in place with one collective: they
   * travel as one flat buffer, as DDP's gradient buckets do.
   */
  allReduceFlat(tensors: readonly Tensor[], op: ReduceOp = "sum"): void {
    checkReduceOp(op);
    const handles = tensors.map((t) => t.handle);
    this.communicate("allReduceFlat", (id) => addon.distAllReduceFlat(id, handles, op));
  }

  /** Copies rank `root`'s values into `t` on every rank, in place. */
  broadcast(t: Tensor, root = 0): void {
    checkInteger(root, "broadcast root", 0, this.worldSize - 1);
    this.communicate("broadcast", (id) => addon.distBroadcast(id, t.handle, root));
  }

  /** Every rank's `t`, in rank order; `t` must have the same shape and dtype on every rank. */
  allGather(t: Tensor): Tensor[] {
    const handles = this.communicate("allGather", (id) => addon.distAllGather(id, t.handle));
    return handles.map((h) => adoptHandle(h));
  }

  /** Every rank's numbers (float64, exact), in rank order; the lengths may differ between ranks. */
  allGatherNumbers(values: readonly number[]): number[][] {
    const bytes = new Uint8Array(Float64Array.from(values).buffer);
    return this.allGatherBytes(bytes).map((b) =>
      Array.from(new Float64Array(b.buffer, b.byteOffset, b.length / 8)),
    );
  }

  /** Every rank's value, as JSON, in rank order (metrics, sample rows). */
  allGatherJson<T>(value: T, codec: JsonCodec = {}): T[] {
    const text = JSON.stringify(value, codec.replacer);
    if (text === undefined)
      throw new Error("allGatherJson: the value has no JSON form (undefined, a function, a symbol)");
    const decoder = new TextDecoder();
    return this.allGatherBytes(new TextEncoder().encode(text)).map(
      (b) => JSON.parse(decoder.decode(b), codec.reviver) as T,
    );
  }

  /** Returns once every rank has called it. */
  barrier(): void {
    this.communicate("barrier", (id) => addon.distBarrier(id));
  }

  /** Sets a small string in the group's store, for every rank to read. */
  storeSet(key: string, value: string): void {
    this.communicate("storeSet", (id) => addon.distStoreSet(id, `user/${key}`, value));
  }

  /** A value some rank set with storeSet; waits for it up to `timeoutSeconds` (default: the group's). */
  storeGet(key: string, timeoutSeconds = this.timeoutSeconds): string {
    const timeoutMs = Math.max(1, Math.round(timeoutSeconds * 1000));
    return this.communicate("storeGet", (id) => addon.distStoreGet(id, `user/${key}`, timeoutMs));
  }

  /**
   * Explains a failed collective: which rank is gone, where that can be known. The store lives in
   * rank 0, so a store that does not answer means rank 0 is gone; a rank on this host whose
   * process has ended is gone; otherwise the backend's message, with the group's ranks.
   */
  describeFailure(error: unknown): string {
    return this.diagnose(error).message;
  }

  /** Leaves the group (rank 0 stops serving the store). Safe to call twice; every other call then throws. */
  destroy(): void {
    if (this.id === null) return;
    const id = this.id;
    this.id = null;
    addon.distDestroy(id);
  }

  toString(): string {
    return `ProcessGroup(rank ${this.rank} of ${this.worldSize}, ${this.backend} on ${this.device})`;
  }

  // ---------------------------------------------------------------------------- internals

  private liveId(what: string): number {
    if (this.id === null) {
      throw new Error(`${what}: the process group (rank ${this.rank} of ${this.worldSize}) was destroyed`);
    }
    return this.id;
  }

  /** Runs a native call; a failure caused by the peers becomes a DistributedError that names the lost rank. */
  private communicate<T>(what: string, call: (id: number) => T): T {
    const id = this.liveId(what);
    try {
      return call(id);
    } catch (err) {
      if (!isCommunicationError(err)) throw err;
      const { message, lostRank } = this.diagnose(err);
      throw new DistributedError(message, lostRank, err);
    }
  }

  /** Byte strings of any length from every rank: the lengths first, then one padded gather. */
  private allGatherBytes(bytes: Uint8Array): Uint8Array[] {
    return scope(() => {
      const lengths = this.allGather(tensor(new Float64Array([bytes.length]), { device: this.device })).map(
        (t) => t.item(),
      );
      const width = Math.max(...lengths);
      if (width === 0) return lengths.map(() => new Uint8Array(0));
      const padded = new Uint8Array(width);
      padded.set(bytes);
      const rows = this.allGather(fromBytes(padded, "uint8", [width], { device: this.device }));
      return rows.map((row, r) => row.toUint8Array().subarray(0, lengths[r]));
    });
  }

  private registerLiveness(timeoutMs: number): void {
    const id = this.liveId("create");
    const me: RankInfo = { pid: process.pid, hostname: hostname() };
    addon.distStoreSet(id, livenessKey(this.rank), JSON.stringify(me));
    const peers: RankInfo[] = [];
    for (let r = 0; r < this.worldSize; r++)
      peers.push(JSON.parse(addon.distStoreGet(id, livenessKey(r), timeoutMs)));
    this.peers = peers;
    // Nobody leaves create() (and rank 0 maybe the whole group) before every rank has read the pids.
    addon.distBarrier(id);
  }

  private describeRank(rank: number): string {
    const peer = this.peers[rank];
    return peer ? `rank ${rank} (pid ${peer.pid} on ${peer.hostname})` : `rank ${rank}`;
  }

  /** Why the store does not answer, or null when it does (or this rank serves it, or it is gone already). */
  private storeProblem(): string | null {
    if (this.id === null) return null;
    try {
      addon.distStoreCheck(this.id, livenessKey(0));
      return null;
    } catch (err) {
      return messageOf(err);
    }
  }

  /** Ranks on this host whose process has ended, waiting briefly for one that is still exiting. */
  private endedLocalRanks(): number[] {
    const here = hostname();
    const local = this.peers
      .map((peer, rank) => ({ peer, rank }))
      .filter(({ peer, rank }) => rank !== this.rank && peer.hostname === here);
    if (local.length === 0) return [];
    const deadline = Date.now() + EXIT_GRACE_MS;
    for (;;) {
      const ended = local.filter(({ peer }) => processEnded(peer.pid)).map(({ rank }) => rank);
      if (ended.length > 0 || Date.now() >= deadline) return ended;
      sleepSync(50);
    }
  }

  private diagnose(error: unknown): { message: string; lostRank: number | null } {
    const detail = messageOf(error);
    const storeProblem = this.rank === 0 ? null : this.storeProblem();
    if (storeProblem !== null) {
      return {
        lostRank: 0,
        message:
          `${this.describeRank(0)}, which hosts the store at ${this.masterAddr}:${this.masterPort}, is gone: ` +
          `the store does not answer (${storeProblem}). ${detail}`,
      };
    }
    const ended = this.endedLocalRanks();
    if (ended.length > 0) {
      const who = ended.map((r) => this.describeRank(r)).join(", ");
      return {
        lostRank: ended[0] as number,
        message: `${who} ${ended.length === 1 ? "is" : "are"} gone: the process has ended. ${detail}`,
      };
    }
    const shown = this.peers.slice(0, 16).map((_, r) => this.describeRank(r));
    const more = this.worldSize > shown.length ? `, and ${this.worldSize - shown.length} more` : "";
    return {
      lostRank: null,
      message: `${detail} [group of ${this.worldSize} ranks: ${shown.join(", ")}${more}; this process is rank ${this.rank}]`,
    };
  }
}

function checkReduceOp(op: string): void {
  if (!REDUCE_OPS.includes(op)) throw new Error(`unknown reduce op "${op}" (sum, max or min)`);
}
