/**
 * A fixed number of slots for one kind of expensive response (binary columns, file downloads,
 * event streams), so that many parallel requests cannot multiply the memory, file descriptors
 * or bandwidth they hold. A request that finds no free slot is refused at once (the server
 * answers 503 with Retry-After) instead of queueing, so nothing piles up behind a slow client.
 */
export class RequestSlots {
  private used = 0;

  constructor(
    /** What the slots are for, in messages ("column responses"). */
    readonly what: string,
    readonly limit: number,
  ) {}

  get inUse(): number {
    return this.used;
  }

  /**
   * Takes a slot; returns the function that gives it back (calling it again does nothing), or
   * null when all are taken.
   */
  take(): (() => void) | null {
    if (this.used >= this.limit) return null;
    this.used += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= 1;
    };
  }

  /** The 503 message: which limit was hit. */
  busyMessage(): string {
    return `too many ${this.what} at once (limit ${this.limit}); retry shortly`;
  }
}
