import type { ServerResponse } from 'node:http';
import { stringify } from 'yaml';
import type { CertificateEntity, EntitySet } from '../config/entities';
import { configHashInSlices } from '../config/load';
import { MAX_CONFIG_BYTES } from '../config/source';
import { declarativeConfigError } from './config-errors';
import { configTextOf } from './config-input';
import { BodyTooLarge, readBody, sendJson } from './http';
import type { AdminRouter } from './router';
import { ENTITY_NAMES, viewOf } from './views';
import { storedHash } from '../plugins/basic-auth/passwords';
import { maskConfig, maskSecret } from '../config/secrets';
import { Pacer } from '../config/pacer';

/**
 * The live config as a declarative file: flat entities, references by id, passwords as their hash; keys and plugin
 * passwords masked unless `reveal` (the loader refuses masked keys, so such an export cannot be posted back).
 */
export function exportConfig(entities: EntitySet, reveal: boolean): string {
  const doc: Record<string, unknown> = { _format_version: '3.0', _transform: false };
  for (const name of ENTITY_NAMES) {
    if (entities[name].length === 0) continue;
    doc[name] = entities[name];
  }
  doc.basicauth_credentials &&= entities.basicauth_credentials.map((b) => ({ ...b, password: storedHash(b) }));
  // A certificate's snis are the top-level snis' names, which the export lists already.
  doc.certificates &&= entities.certificates.map(({ snis, ...c }) => c);
  if (!reveal) {
    doc.keyauth_credentials &&= entities.keyauth_credentials.map((k) => ({ ...k, key: maskSecret(k.key) }));
    doc.jwt_secrets &&= entities.jwt_secrets.map((j) => (j.secret === undefined ? j : { ...j, secret: maskSecret(j.secret) }));
    doc.hmacauth_credentials &&= entities.hmacauth_credentials.map((h) => ({ ...h, secret: maskSecret(h.secret) }));
    doc.plugins &&= entities.plugins.map((p) => ({ ...p, config: maskConfig(p.config) }));
    doc.certificates &&= (doc.certificates as CertificateEntity[]).map((c) => ({
      ...c,
      key: maskSecret(c.key),
      ...(c.key_alt === undefined ? {} : { key_alt: maskSecret(c.key_alt) }),
    }));
  }
  // YAML 1.1 output quotes strings such as "yes" or "0123" so the file reads back the same.
  return stringify(doc, { version: '1.1' });
}

// The answer to a large config is built in slices this long, each followed by a rest as long as it took.
const ANSWER_SLICE_MS = 3;
// Pieces of the answer are written in chunks of about this many characters.
const ANSWER_CHUNK = 64 * 1024;

/**
 * What Kong answers on success: every entity by id, per entity type. Built one entity at a time between the
 * requests the proxy serves: for a config of 50,000 consumers it is about 16 MB, a second's work in one piece.
 */
async function sendFlattened(res: ServerResponse, entities: EntitySet, reveal: boolean): Promise<void> {
  const pacer = new Pacer(ANSWER_SLICE_MS, true);
  const chunks: string[] = [];
  let chunk = '{';
  let kinds = 0;
  for (const name of ENTITY_NAMES) {
    const list = entities[name];
    for (let i = 0; i < list.length; i++) {
      const opening = i > 0 ? ',' : `${kinds++ > 0 ? ',' : ''}${JSON.stringify(name)}:{`;
      chunk += `${opening}${JSON.stringify(list[i].id)}:${JSON.stringify(viewOf(name, list[i], reveal))}`;
      if (i === list.length - 1) chunk += '}';
      if (chunk.length >= ANSWER_CHUNK) {
        chunks.push(chunk);
        chunk = '';
      }
      await pacer.between();
    }
  }
  chunks.push(`${chunk}}`);
  const length = chunks.reduce((sum, c) => sum + Buffer.byteLength(c), 0);
  res.writeHead(201, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': length });
  for (const c of chunks) res.write(c);
  res.end();
}

/** GET /config: the live config. POST /config: replace it, in memory only (the next change of the file wins). */
export function addConfigRoutes(router: AdminRouter): void {
  router.add('/config', {
    GET: (r) => sendJson(r.res, 200, { config: exportConfig(r.snapshot.entities, r.revealSecrets) }),
    POST: async (r) => {
      let body: Buffer;
      try {
        body = await readBody(r.req, MAX_CONFIG_BYTES);
      } catch (err) {
        if (err instanceof BodyTooLarge) return sendJson(r.res, 413, { message: `configuration larger than ${MAX_CONFIG_BYTES} bytes` });
        throw err;
      }
      const text = configTextOf(body, r.req.headers['content-type']);
      if (text === undefined) return sendJson(r.res, 400, { message: 'expected a declarative configuration' });
      if (r.query.get('check_hash') === '1' && (await configHashInSlices(Buffer.from(text))) === r.gateway.proxy.current.hash) {
        r.res.writeHead(304).end();
        return;
      }
      const outcome = await r.gateway.applyConfigText(text, 'POST /config');
      // With workers, the answer waits until they serve it too.
      if (outcome.loaded) await r.gateway.options.workers?.settled();
      if (outcome.loaded) return sendFlattened(r.res, outcome.loaded.entities, r.revealSecrets);
      const flatten = r.query.get('flatten_errors') === '1' ? text : undefined;
      sendJson(r.res, 400, declarativeConfigError(outcome.error!.issues, flatten));
    },
  });
}
