/**
 * A bounded map that keeps what is used: two generations of at most `generation` entries each. New entries go
 * into the young one; a hit in the old one moves the entry up; when the young one is full it becomes the old one
 * and the previous old one is dropped whole. An approximate LRU whose hits on the young generation cost one
 * lookup and no write.
 */
export class GenerationalCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();

  constructor(private readonly generation: number) {}

  get(key: string): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.set(key, aged);
    }
    return aged;
  }

  set(key: string, value: V): void {
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  delete(key: string): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
