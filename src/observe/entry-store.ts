/** Bytes per chunk: a log entry is ~1–2 KB, so a chunk holds a hundred or more. */
const CHUNK_BYTES = 256 * 1024;
/** Chunks kept for reuse once their entries have left. */
const SPARE_CHUNKS = 2;
/** UTF-8 needs at most 3 bytes per UTF-16 code unit: a text this short surely fits without measuring it. */
const MAX_UTF8_PER_UNIT = 3;

/** A queued entry: a JSON text (log line, zipkin span) or bytes already encoded (an OTLP span). */
export type Entry = string | Uint8Array;

/**
 * Entries (log lines, JSON spans as UTF-8, OTLP spans as protobuf) kept in large buffers outside the JS heap, each
 * entry a start and an end in number arrays. A queue that fills while its collector is down keeps up to max_entries
 * of them for as long as max_retry_time: as strings, each survived young-generation collections and was copied into
 * the old generation, and the proxy's collections grew several-fold (p99 +6 ms); here nothing of a queued entry is
 * a JS object. A batch is copied out of the chunks, so a chunk no entry needs is reused: a full queue dropping its
 * oldest entries allocates nothing, where new chunks would have the collector chase their external memory.
 */
export class ByteStore {
  /** chunks[i] is chunk number firstChunk + i. */
  private chunks: Buffer[] = [];
  private firstChunk = 0;
  private spare: Buffer[] = [];
  /** Bytes used in the last chunk. */
  private used = 0;
  /** Per entry, oldest first from `head`: its chunk number, start and end in that chunk. */
  private chunkOf: number[] = [];
  private startOf: number[] = [];
  private endOf: number[] = [];
  private head = 0;
  /** Bytes of the entries held, as max_bytes counts them. */
  bytes = 0;

  get size(): number {
    return this.chunkOf.length - this.head;
  }

  /** Bytes of an entry, as max_bytes counts them. */
  bytesOf(entry: Entry): number {
    return typeof entry === 'string' ? Buffer.byteLength(entry) : entry.length;
  }

  /** Copies the entry in: bytes given may be reused by the caller once this returns. */
  push(entry: Entry): void {
    let chunk = this.chunks.length === 0 ? undefined : this.chunks[this.chunks.length - 1];
    const room = chunk === undefined ? 0 : chunk.length - this.used;
    const mostBytes = typeof entry === 'string' ? entry.length * MAX_UTF8_PER_UNIT : entry.length;
    if (chunk === undefined || (mostBytes > room && this.bytesOf(entry) > room)) {
      const bytes = this.bytesOf(entry);
      chunk = bytes <= CHUNK_BYTES ? (this.spare.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES)) : Buffer.allocUnsafeSlow(bytes);
      this.chunks.push(chunk);
      this.used = 0;
    }
    const start = this.used;
    if (typeof entry === 'string') this.used += chunk.write(entry, start);
    else {
      chunk.set(entry, start);
      this.used += entry.length;
    }
    this.bytes += this.used - start;
    this.chunkOf.push(this.firstChunk + this.chunks.length - 1);
    this.startOf.push(start);
    this.endOf.push(this.used);
  }

  dropOldest(): void {
    this.advance(1, this.endOf[this.head] - this.startOf[this.head]);
  }

  /** Removes the `n` oldest entries (n ≤ size) and returns copies of their bytes. */
  take(n: number): Buffer[] {
    let bytes = 0;
    for (let k = this.head; k < this.head + n; k++) bytes += this.endOf[k] - this.startOf[k];
    const copy = Buffer.allocUnsafe(bytes);
    const batch = new Array<Buffer>(n);
    let at = 0;
    for (let i = 0; i < n; i++) {
      const k = this.head + i;
      const end = at + this.chunks[this.chunkOf[k] - this.firstChunk].copy(copy, at, this.startOf[k], this.endOf[k]);
      batch[i] = copy.subarray(at, end);
      at = end;
    }
    this.advance(n, bytes);
    return batch;
  }

  clear(): void {
    this.chunks = [];
    this.spare = [];
    this.firstChunk = 0;
    this.used = 0;
    this.chunkOf = [];
    this.startOf = [];
    this.endOf = [];
    this.head = 0;
    this.bytes = 0;
  }

  /** Forgets the `n` oldest entries, `bytes` long together (the caller has measured them). */
  private advance(n: number, bytes: number): void {
    this.bytes -= bytes;
    this.head += n;
    if (this.head === this.chunkOf.length) {
      // Empty: the last chunk keeps its room for the next entries.
      const last = this.chunks[this.chunks.length - 1];
      this.release(this.chunks.length - 1);
      this.chunks = [last];
      this.chunkOf = [];
      this.startOf = [];
      this.endOf = [];
      this.head = 0;
      return;
    }
    const oldest = this.chunkOf[this.head] - this.firstChunk;
    if (oldest > 0) this.release(oldest);
    if (this.head > 1024 && this.head * 2 > this.chunkOf.length) {
      this.chunkOf = this.chunkOf.slice(this.head);
      this.startOf = this.startOf.slice(this.head);
      this.endOf = this.endOf.slice(this.head);
      this.head = 0;
    }
  }

  /** Lets go of the `n` oldest chunks: no entry uses them, and no batch, which holds copies. */
  private release(n: number): void {
    for (const chunk of this.chunks.splice(0, n)) if (chunk.length === CHUNK_BYTES && this.spare.length < SPARE_CHUNKS) this.spare.push(chunk);
    this.firstChunk += n;
  }
}
