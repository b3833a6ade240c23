/**
 * A virtual clock with virtual timers for simulations: `setTimeout` callbacks run in time order when `runUntil`
 * advances the clock, and every promise chain they start settles before the clock moves on. Hours of
 * simulated time pass in seconds, and the result does not depend on the machine's speed.
 */
interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

export class VirtualTime {
  #now: number;
  #seq = 0;
  /** A binary min-heap ordered by (at, seq): timers due at the same moment run in the order they were set. */
  readonly #heap: Timer[] = [];

  constructor(startMs: number) {
    this.#now = startMs;
  }

  readonly now = (): number => this.#now;

  readonly setTimeout = (callback: () => void, ms: number): Timer => {
    const timer: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, callback, cancelled: false };
    this.#push(timer);
    return timer;
  };

  readonly clearTimeout = (handle: unknown): void => {
    (handle as Timer).cancelled = true;
  };

  readonly sleep = (ms: number): Promise<void> => new Promise((resolve) => this.setTimeout(resolve, ms));

  /** Runs every timer due up to `end` (those set meanwhile included), then leaves the clock at `end`. */
  async runUntil(end: number): Promise<void> {
    for (let next = this.#heap[0]; next !== undefined && next.at <= end; next = this.#heap[0]) {
      this.#now = next.at;
      while (this.#heap[0]?.at === this.#now) {
        const timer = this.#pop();
        if (!timer.cancelled) timer.callback();
      }
      // setImmediate runs once the microtask queue is empty: every promise the callbacks started has settled.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    this.#now = Math.max(this.#now, end);
  }

  #before(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(timer: Timer): void {
    const heap = this.#heap;
    heap.push(timer);
    for (let i = heap.length - 1; i > 0; ) {
      const parent = (i - 1) >> 1;
      if (!this.#before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  #pop(): Timer {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < heap.length && this.#before(heap[left]!, heap[smallest]!)) smallest = left;
        if (right < heap.length && this.#before(heap[right]!, heap[smallest]!)) smallest = right;
        if (smallest === i) break;
        [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
        i = smallest;
      }
    }
    return top;
  }
}

/** A seeded pseudo-random source (mulberry32) in [0, 1): simulations repeat exactly for one seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
