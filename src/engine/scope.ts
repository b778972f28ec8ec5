// Tensor lifetimes and grad mode, per asynchronous context.
//
// Device memory must not wait for the JavaScript garbage collector (measured: 1.3-3x slower), so
// tensors are freed explicitly. `scope(fn)` frees every tensor created while fn runs except the ones
// it returns, which move to the enclosing scope. The current scope and grad mode live in an
// AsyncLocalStorage context, so an `await` inside a scope (or noGrad) keeps its own settings even
// when other async work interleaves. Tensors created outside any scope, or kept with keep(), are
// the caller's to dispose(); a FinalizationRegistry frees them if they are forgotten.
import { AsyncLocalStorage } from "node:async_hooks";
import { native } from "./native.js";

/** Something a scope can own and free: Tensor extends this. */
export abstract class Scoped {
  /** The scope that will free this object, or null when the caller owns it. */
  _scope: Scope | null = null;
  abstract dispose(): void;
  /** The native handle; throws once disposed. */
  abstract get handle(): number;
  /**
   * Marks this disposed and returns the native handle for the caller to release (-1 if it was
   * disposed already). Lets a closing scope free all its temporaries in one native call.
   */
  abstract takeHandle(): number;
}

export class Scope {
  readonly owned: Scoped[] = [];
  /** Set once close() ran; async work still running in this context then hands tensors upward. */
  closed = false;
  constructor(readonly parent: Scope | null) {}

  /** Frees everything owned except the Scoped values reachable from `result`, which move up. */
  close(result: unknown): void {
    this.closed = true;
    const escaping = new Set<Scoped>();
    collectScoped(result, escaping);
    const released: number[] = [];
    for (const item of this.owned) {
      if (item._scope !== this) continue; // kept, moved or disposed already
      if (escaping.has(item)) {
        adopt(item, this.parent);
      } else {
        const handle = item.takeHandle();
        if (handle >= 0) released.push(handle);
      }
    }
    this.owned.length = 0;
    if (released.length > 0) native.releaseMany(released);
  }
}

interface Context {
  readonly scope: Scope | null;
  readonly grad: boolean;
}

const ROOT: Context = { scope: null, grad: true };
const storage = new AsyncLocalStorage<Context>();

/** Frees handles of tensors that became unreachable without dispose() (safety net only). */
const forgotten = new FinalizationRegistry<number>((handle) => native.release(handle));

/** Mirrors libtorch's thread-local grad mode, so we only call into C++ when it must change. */
let nativeGrad = native.isGradEnabled();

/**
 * Called before every op: makes libtorch's grad mode match the current context (noGrad may be
 * active in one async task and not in another) and returns the scope new tensors belong to.
 */
export function enterOp(): Scope | null {
  const ctx = storage.getStore() ?? ROOT;
  if (ctx.grad !== nativeGrad) {
    native.setGradEnabled(ctx.grad);
    nativeGrad = ctx.grad;
  }
  return ctx.scope;
}

/** The scope that owns newly created tensors right now (null: the caller owns them). */
export function currentScope(): Scope | null {
  return (storage.getStore() ?? ROOT).scope;
}

/** Hands `item` to `owner` (a scope), or to the caller (null) with the GC safety net armed. */
export function adopt(item: Scoped, owner: Scope | null): void {
  while (owner?.closed) owner = owner.parent; // e.g. a promise not awaited inside an async scope
  item._scope = owner;
  if (owner) {
    owner.owned.push(item);
  } else {
    forgotten.register(item, item.handle, item);
  }
}

/** Disarms the GC safety net of an object the caller owned (on dispose). */
export function forget(item: Scoped): void {
  forgotten.unregister(item);
}

function collectScoped(value: unknown, into: Set<Scoped>): void {
  if (value === null || typeof value !== "object") return;
  if (value instanceof Scoped) {
    into.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collectScoped(v, into);
  } else if (value instanceof Map) {
    for (const v of value.values()) collectScoped(v, into);
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) {
      for (const v of Object.values(value)) collectScoped(v, into);
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function"
  );
}

/**
 * Runs fn and frees every tensor created inside it, except those in its result (a Tensor, or
 * arrays / plain objects / Maps containing Tensors), which move to the enclosing scope. Nestable.
 * If fn is async, tensors are freed when its promise settles.
 */
export function scope<T>(fn: () => T): T {
  const parent = storage.getStore() ?? ROOT;
  const own = new Scope(parent.scope);
  let result: T;
  try {
    result = storage.run({ scope: own, grad: parent.grad }, fn);
  } catch (err) {
    own.close(undefined);
    throw err;
  }
  if (isPromiseLike(result)) {
    return Promise.resolve(result).then(
      (value) => {
        own.close(value);
        return value;
      },
      (err: unknown) => {
        own.close(undefined);
        throw err;
      },
    ) as T;
  }
  own.close(result);
  return result;
}

/**
 * Takes tensors (or arrays / plain objects of them) out of every scope: the caller now owns them
 * and must dispose() them. Returns its argument.
 */
export function keep<T>(value: T): T {
  const found = new Set<Scoped>();
  collectScoped(value, found);
  for (const item of found) {
    if (item._scope !== null) adopt(item, null);
  }
  return value;
}

/** Runs fn with autograd off (like torch.no_grad()); works across awaits inside fn. */
export function noGrad<T>(fn: () => T): T {
  const parent = storage.getStore() ?? ROOT;
  return storage.run({ scope: parent.scope, grad: false }, fn);
}

/** Runs fn with autograd on (like torch.enable_grad()), e.g. to recompute a block inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const parent = storage.getStore() ?? ROOT;
  return storage.run({ scope: parent.scope, grad: true }, fn);
}

/** Whether ops run now would record autograd history. */
export function isGradEnabled(): boolean {
  return (storage.getStore() ?? ROOT).grad;
}

/** Number of live tensor handles in the addon (for leak checks in tests). */
export function liveTensorCount(): number {
  return native.liveCount();
}
