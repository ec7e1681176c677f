import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PLUGINS } from '../../src/plugins';
import { DOCS, ROOT, read } from './markdown';

interface Schema {
  $id?: string;
  properties?: Record<string, Schema>;
  $ref?: string;
  definitions?: Record<string, Schema>;
}

/** The schema a $ref names: one of this schema's definitions, or another schema file (by its $id's path). */
function referenced(schema: Schema, ref: string): Schema {
  if (ref.startsWith('#')) return schema.definitions?.[ref.split('/').pop()!] ?? {};
  const url = new URL(ref, schema.$id);
  return JSON.parse(readFileSync(join(ROOT, url.pathname), 'utf8')) as Schema;
}

/** Top-level config fields and, for object fields, their own fields one level down (`redis.host`). */
export function fieldNames(schema: Schema): string[] {
  const resolve = (s: Schema): Schema => (s.$ref ? { ...referenced(schema, s.$ref), ...s } : s);
  const out: string[] = [];
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    out.push(name);
    for (const sub of Object.keys(resolve(field).properties ?? {})) out.push(`${name}.${sub}`);
  }
  return out;
}

// Every plugin has docs/plugins/<name>.md, and that page names every field of its schema, in backquotes.
for (const [name, plugin] of PLUGINS) {
  t.test(`docs/plugins/${name}.md names every field of the ${name} schema`, async (t) => {
    const page = join(DOCS, 'plugins', `${name}.md`);
    t.ok(existsSync(page), `${page} exists`);
    if (!existsSync(page)) return;
    const text = read(join('docs', 'plugins', `${name}.md`));
    const fields = fieldNames(plugin.configSchema as Schema);
    t.ok(fields.length > 0);
    t.same(fields.filter((f) => !text.includes('`' + f + '`')), [], 'fields missing from the page');
  });
}

t.test('nested fields are listed one level down, through $ref', async (t) => {
  t.same(
    fieldNames({
      definitions: { conn: { properties: { host: {}, port: {} } } },
      properties: { limit: {}, redis: { $ref: '#/definitions/conn' }, memory: { properties: { name: {} } } },
    }),
    ['limit', 'redis', 'redis.host', 'redis.port', 'memory', 'memory.name'],
  );
  t.same(
    fieldNames({ $id: 'https://gateway.invalid/src/plugins/http-log/schema.json', properties: { queue: { $ref: '../../observe/queue.schema.json' } } }).slice(0, 3),
    ['queue', 'queue.max_batch_size', 'queue.max_coalescing_delay'],
    'into another schema file (src/observe/queue.schema.json)',
  );
});

// The README's support table and the plugins index link every plugin's page.
t.test('README.md and docs/plugins.md link every plugin page', async (t) => {
  const readme = read('README.md');
  const index = read(join('docs', 'plugins.md'));
  for (const name of PLUGINS.keys()) {
    t.ok(readme.includes(`(docs/plugins/${name}.md)`), `README.md links ${name}`);
    t.ok(index.includes(`(plugins/${name}.md)`), `docs/plugins.md links ${name}`);
  }
});
