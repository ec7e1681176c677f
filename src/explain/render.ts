import type { Explanation } from './explain';
import { table } from '../cli/table';

const BODY_SHOWN = 200;
const INDENT = ' '.repeat(10);


/** The explanation for a person: one labelled line per fact, the plugin chain as a table. */
export function renderExplanation(x: Explanation): string {
  const out: string[] = [];
  const host = x.request.headers.find(([n]) => n.toLowerCase() === 'host')?.[1];
  out.push(`request   ${x.request.method} ${x.request.target}${host !== undefined ? `  (Host: ${host})` : ''}`);
  const others = x.request.headers.filter(([n]) => n.toLowerCase() !== 'host');
  for (const [n, v] of others) out.push(`          ${n}: ${v}`);
  if (x.route === null) {
    out.push('route     none matched');
  } else {
    out.push(`route     ${x.route.name}${x.route.service !== null ? ` (service ${x.route.service})` : ' (no service)'}: ${x.route.why.join(', ')}`);
  }
  if (x.near_misses.length > 0) {
    out.push('not this  (routes that came close)');
    out.push(...table(x.near_misses.map((m) => [m.route, m.reason]), INDENT));
  }
  if (x.upstream !== null) out.push(`upstream  ${x.upstream.url}`);
  const b = x.balancing;
  if (b !== null) {
    if (b.candidates.length === 0) out.push(`target    none: upstream '${b.upstream}' has no target of weight above 0 (answered 503)`);
    else if (b.target !== null) out.push(`target    ${b.target} (upstream '${b.upstream}', ${b.algorithm}${b.hashed_on !== null ? ` on ${b.hashed_on}` : ''})`);
    else {
      out.push(`target    one of (upstream '${b.upstream}', ${b.algorithm}; health decides at run time)`);
      out.push(...table(b.candidates.map((c) => [c.target, `weight ${c.weight}`, c.share]), INDENT));
    }
  }
  if (x.plugins.length > 0) {
    out.push('plugins   (in execution order)');
    out.push(...table(x.plugins.map((p, i) => [`${i + 1}.`, p.instance_name ?? p.name, p.scope, p.result]), INDENT));
  }
  const c = x.consumer;
  out.push(`consumer  ${c === null ? 'none' : `${c.username ?? c.custom_id ?? c.id}${c.anonymous ? ' (anonymous)' : ''}`}`);
  if (x.outcome.action === 'proxied') {
    out.push(`outcome   proxied to ${x.outcome.upstream}`);
  } else {
    const o = x.outcome;
    out.push(`outcome   answered ${o.status} by the gateway`);
    for (const [name, value] of Object.entries(o.headers)) {
      if (name === 'server' || name === 'x-kong-request-id' || name === 'content-length') continue;
      out.push(`${INDENT}${name}: ${Array.isArray(value) ? value.join(', ') : String(value)}`);
    }
    if (o.body !== '') {
      const shown = o.body.length > BODY_SHOWN ? `${o.body.slice(0, BODY_SHOWN)}… (${Buffer.byteLength(o.body)} bytes)` : o.body;
      out.push(`${INDENT}${shown.trimEnd()}`);
    }
  }
  return `${out.join('\n')}\n`;
}
