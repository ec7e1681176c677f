import type { AdminRequest } from './http';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Handler = (r: AdminRequest, params: Record<string, string>) => void | Promise<void>;
export type Handlers = Partial<Record<Method, Handler>>;

interface Entry {
  segments: string[];
  handlers: Handlers;
  /** Literal segments count: `/plugins/enabled` beats `/plugins/:plugin`. */
  literals: number;
}

export type Dispatch = { handler: Handler; params: Record<string, string> } | 'method not allowed' | 'not found';

/** Path patterns such as `/services/:service/routes`, matched segment by segment. */
export class AdminRouter {
  private readonly byLength = new Map<number, Entry[]>();

  add(pattern: string, handlers: Handlers): this {
    const segments = pattern.split('/').filter(Boolean);
    const entry = { segments, handlers, literals: segments.filter((s) => !s.startsWith(':')).length };
    const list = this.byLength.get(segments.length) ?? [];
    list.push(entry);
    list.sort((a, b) => b.literals - a.literals);
    this.byLength.set(segments.length, list);
    return this;
  }

  dispatch(method: string, segments: string[]): Dispatch {
    for (const entry of this.byLength.get(segments.length) ?? []) {
      const params: Record<string, string> = {};
      const matched = entry.segments.every((s, i) => {
        if (s.startsWith(':')) {
          params[s.slice(1)] = segments[i];
          return true;
        }
        return s === segments[i];
      });
      if (!matched) continue;
      const handler = entry.handlers[(method === 'HEAD' ? 'GET' : method) as Method];
      return handler ? { handler, params } : 'method not allowed';
    }
    return 'not found';
  }
}
