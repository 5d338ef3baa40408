/** Keeps the first `cap` bytes of a stream and counts the rest, so runaway output cannot fill memory. */
export class CappedOutput {
  readonly #cap: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  #total = 0;

  constructor(cap: number) {
    this.#cap = cap;
  }

  /** Bytes seen, kept or not. */
  get total(): number {
    return this.#total;
  }

  get truncated(): boolean {
    return this.#total > this.#kept;
  }

  push(chunk: Buffer | string): void {
    const data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#total += data.length;
    const room = this.#cap - this.#kept;
    if (room <= 0) return;
    const kept = data.length <= room ? data : data.subarray(0, room);
    this.#chunks.push(kept);
    this.#kept += kept.length;
  }

  /** The kept text (UTF-8; a character cut at the cap becomes U+FFFD), with a marker when truncated. */
  text(): string {
    const text = Buffer.concat(this.#chunks).toString('utf8');
    if (!this.truncated) return text;
    return `${text}\n[output truncated: ${this.#total - this.#kept} more bytes not shown]`;
  }
}
