import t from 'tap';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PLUGINS } from '../../src/plugins';
import { DOCS, read } from './markdown';

interface Schema {
  properties?: Record<string, Schema>;
  $ref?: string;
  definitions?: Record<string, Schema>;
}

/** Top-level config fields and, for object fields, their own fields one level down (`redis.host`). */
export function fieldNames(schema: Schema): string[] {
  const defs = schema.definitions ?? {};
  const resolve = (s: Schema): Schema => (s.$ref ? { ...defs[s.$ref.split('/').pop()!], ...s } : s);
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
