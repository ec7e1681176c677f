import type { Chain, ChainEntry } from '../config/snapshot';
import type { RequestContext } from './context';

/**
 * A response's status and headers before they are written, as response-phase plugins (Kong's header_filter) see
 * and edit them: the upstream's answer, or one the gateway generated. Headers are a flat [name, value, …] list
 * (the form writeHead takes); names compare without case.
 */
export class ResponseHead {
  /** The largest body a plugin asked to see whole (its body filter); 0 when none did. */
  bodyLimit = 0;
  /** Plugins whose body filter runs, in chain order. */
  bodyFilters: ChainEntry[] | undefined = undefined;
  private current: ChainEntry | undefined = undefined;

  constructor(
    public status: number,
    readonly headers: Array<string | string[]>,
    /** True for the upstream's answer, false for one the gateway generated. */
    readonly fromUpstream: boolean,
  ) {}

  private indexOf(name: string, from = 0): number {
    const want = name.toLowerCase();
    for (let i = from; i < this.headers.length; i += 2) {
      const n = this.headers[i] as string;
      if (n === want || n.toLowerCase() === want) return i;
    }
    return -1;
  }

  /** The header's value (its values joined by ", " when it stands more than once), or undefined. */
  get(name: string): string | undefined {
    let i = this.indexOf(name);
    if (i === -1) return undefined;
    const values: string[] = [];
    for (; i !== -1; i = this.indexOf(name, i + 2)) {
      const v = this.headers[i + 1];
      if (Array.isArray(v)) values.push(...v);
      else values.push(v);
    }
    return values.join(', ');
  }

  has(name: string): boolean {
    return this.indexOf(name) !== -1;
  }

  /** Replaces every value of the header with this one. */
  set(name: string, value: string | string[]): void {
    this.remove(name);
    this.headers.push(name.toLowerCase(), value);
  }

  /** Adds a value, keeping those already there. */
  append(name: string, value: string): void {
    this.headers.push(name.toLowerCase(), value);
  }

  remove(name: string): void {
    for (let i = this.indexOf(name); i !== -1; i = this.indexOf(name, i)) this.headers.splice(i, 2);
  }

  /**
   * Asks for the whole body (up to `limit` bytes) to be handed to this plugin's bodyFilter before it is sent. A
   * larger body is sent as it came, unfiltered. Only from a headerFilter.
   */
  bufferBody(limit: number): void {
    if (this.current === undefined) throw new Error('bufferBody is called from a headerFilter');
    if (limit > this.bodyLimit) this.bodyLimit = limit;
    (this.bodyFilters ??= []).push(this.current);
  }

  /** Runs the response phase of every plugin of the chain that has one, in the chain's order. */
  runHeaderFilters(ctx: RequestContext, chain: Chain): void {
    for (let i = 0; i < chain.length; i++) {
      const entry = chain[i];
      const filter = entry.def.headerFilter;
      if (filter === undefined) continue;
      this.current = entry;
      filter(ctx, entry.conf, this);
    }
    this.current = undefined;
  }

  /** Passes the whole body through the body filters that asked for it. */
  filterBody(ctx: RequestContext, body: Buffer): Buffer {
    for (const entry of this.bodyFilters ?? []) body = entry.def.bodyFilter!(ctx, entry.conf, body, this);
    return body;
  }
}

/** Whether any plugin of the chain has a response phase (checked before building a ResponseHead). */
export function hasResponsePhase(chain: Chain): boolean {
  for (let i = 0; i < chain.length; i++) if (chain[i].def.headerFilter !== undefined) return true;
  return false;
}
