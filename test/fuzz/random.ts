// The fuzzer's source of randomness: mulberry32, a 32-bit generator small enough to read at a glance and good
// enough to pick test cases. Everything the fuzzer generates comes from one seed, so a failure is replayed by
// running it again with that seed (OWLET_FUZZ_SEED).

export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** An integer in [low, high], both included. */
  int(low: number, high: number): number {
    return low + Math.floor(this.next() * (high - low + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** Picks by weight: `[[3, a], [1, b]]` gives `a` three times as often as `b`. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((sum, [w]) => sum + w, 0);
    let x = this.next() * total;
    for (const [w, value] of choices) {
      x -= w;
      if (x < 0) return value;
    }
    return choices.at(-1)![1];
  }

  /** A lower-case UUID (version 4 layout), as SDKs make idempotency tokens. */
  uuid(): string {
    const hex = (n: number): string => Array.from({ length: n }, () => this.int(0, 15).toString(16)).join('');
    return `${hex(8)}-${hex(4)}-4${hex(3)}-${this.pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
  }
}

/** A seed from the environment, or a fresh one; printed by the caller so that a run can be repeated. */
export function seedFrom(env: NodeJS.ProcessEnv): number {
  const given = env.OWLET_FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) throw new Error(`OWLET_FUZZ_SEED must be an integer from 0 to ${0xffff_ffff}; got ${given}`);
    return seed;
  }
  return Math.floor(Math.random() * 0x1_0000_0000);
}
