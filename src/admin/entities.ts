import type { EntitySet } from '../config/entities';
import type { Snapshot } from '../config/snapshot';
import { ERROR_CODES, notFound, sendJson, type AdminRequest } from './http';
import { sendPage } from './paging';
import type { AdminRouter, Handler } from './router';
import { viewOf, type EntityName } from './views';

type Entity = { id: string } & Record<string, unknown>;

interface Kind {
  entity: EntityName;
  /** URL segment of the collection. */
  path: string;
  /** Field an item may be addressed by besides its id (Kong's endpoint key). */
  endpointKey?: string;
}

const KINDS: Record<EntityName, Kind> = {
  services: { entity: 'services', path: 'services', endpointKey: 'name' },
  routes: { entity: 'routes', path: 'routes', endpointKey: 'name' },
  consumers: { entity: 'consumers', path: 'consumers', endpointKey: 'username' },
  plugins: { entity: 'plugins', path: 'plugins', endpointKey: 'instance_name' },
  keyauth_credentials: { entity: 'keyauth_credentials', path: 'key-auths', endpointKey: 'key' },
  basicauth_credentials: { entity: 'basicauth_credentials', path: 'basic-auths', endpointKey: 'username' },
  jwt_secrets: { entity: 'jwt_secrets', path: 'jwts', endpointKey: 'key' },
  hmacauth_credentials: { entity: 'hmacauth_credentials', path: 'hmac-auths', endpointKey: 'username' },
  acls: { entity: 'acls', path: 'acls' },
  upstreams: { entity: 'upstreams', path: 'upstreams', endpointKey: 'name' },
  targets: { entity: 'targets', path: 'targets', endpointKey: 'target' },
  certificates: { entity: 'certificates', path: 'certificates' },
  snis: { entity: 'snis', path: 'snis', endpointKey: 'name' },
  ca_certificates: { entity: 'ca_certificates', path: 'ca_certificates' },
};

/** A foreign key: `child[field]` holds a `parent` id; `nested` is the child collection's segment under the parent. */
interface Relation {
  child: EntityName;
  field: string;
  parent: EntityName;
  nested: string;
  /** Field a child may be addressed by under its parent (acl groups are unique per consumer only). */
  nestedKey?: string;
}

const RELATIONS: Relation[] = [
  { child: 'routes', field: 'service', parent: 'services', nested: 'routes' },
  { child: 'plugins', field: 'service', parent: 'services', nested: 'plugins' },
  { child: 'plugins', field: 'route', parent: 'routes', nested: 'plugins' },
  { child: 'plugins', field: 'consumer', parent: 'consumers', nested: 'plugins' },
  { child: 'keyauth_credentials', field: 'consumer', parent: 'consumers', nested: 'key-auth' },
  { child: 'basicauth_credentials', field: 'consumer', parent: 'consumers', nested: 'basic-auth' },
  { child: 'jwt_secrets', field: 'consumer', parent: 'consumers', nested: 'jwt' },
  { child: 'hmacauth_credentials', field: 'consumer', parent: 'consumers', nested: 'hmac-auth' },
  { child: 'acls', field: 'consumer', parent: 'consumers', nested: 'acls', nestedKey: 'group' },
  { child: 'targets', field: 'upstream', parent: 'upstreams', nested: 'targets', nestedKey: 'target' },
  { child: 'snis', field: 'certificate', parent: 'certificates', nested: 'snis', nestedKey: 'name' },
];

/** Per-snapshot lookup tables, built on first use: the Admin API never scans a list to find one entity. */
class Lookup {
  private readonly refs = new Map<EntityName, Map<string, Entity>>();
  private readonly groups = new Map<Relation, Map<string, Entity[]>>();

  constructor(private readonly entities: EntitySet) {}

  all(name: EntityName): readonly Entity[] {
    return this.entities[name] as unknown as Entity[];
  }

  /** By id, else by the endpoint key. */
  find(name: EntityName, ref: string): Entity | undefined {
    let m = this.refs.get(name);
    if (m === undefined) {
      m = new Map();
      const key = KINDS[name].endpointKey;
      for (const e of this.all(name)) if (key !== undefined && typeof e[key] === 'string') m.set(e[key] as string, e);
      for (const e of this.all(name)) m.set(e.id, e);
      this.refs.set(name, m);
    }
    return m.get(ref);
  }

  childrenOf(rel: Relation, parentId: string): readonly Entity[] {
    let m = this.groups.get(rel);
    if (m === undefined) {
      m = new Map();
      for (const e of this.all(rel.child)) {
        const p = e[rel.field];
        if (typeof p !== 'string') continue;
        const list = m.get(p);
        if (list) list.push(e);
        else m.set(p, [e]);
      }
      this.groups.set(rel, m);
    }
    return m.get(parentId) ?? [];
  }

  findChild(rel: Relation, parentId: string, ref: string): Entity | undefined {
    const byRef = this.find(rel.child, ref);
    if (byRef !== undefined && byRef[rel.field] === parentId) return byRef;
    if (rel.nestedKey === undefined) return undefined;
    return this.childrenOf(rel, parentId).find((e) => e[rel.nestedKey!] === ref);
  }
}

const lookups = new WeakMap<Snapshot, Lookup>();

function lookup(r: AdminRequest): Lookup {
  let l = lookups.get(r.snapshot);
  if (l === undefined) {
    l = new Lookup(r.snapshot.entities);
    lookups.set(r.snapshot, l);
  }
  return l;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Verb = 'create' | 'create or update' | 'update' | 'remove';

/** DB-less Kong refuses every write with 405, code 12; an item addressed by its endpoint key is named so. */
function refuse(r: AdminRequest, verb: Verb, name: EntityName, ref?: string): void {
  const key = KINDS[name].endpointKey;
  const by = ref !== undefined && key !== undefined && !UUID.test(ref) ? ` by '${key}'` : '';
  sendJson(r.res, 405, { ...ERROR_CODES.operationUnsupported, message: `cannot ${verb} '${name}' entities${by} when not using a database` });
}

const view = (r: AdminRequest, name: EntityName) => (e: Entity) => viewOf(name, e, r.revealSecrets);

/** Item write methods: PUT is an upsert (refused whether or not the item exists); PATCH and DELETE need the item. */
function itemWrites(name: EntityName, find: (r: AdminRequest, p: Record<string, string>) => Entity | undefined, refParam: string) {
  const needing = (verb: Verb): Handler => (r, p) => (find(r, p) === undefined ? notFound(r) : refuse(r, verb, name, p[refParam]));
  return { PUT: ((r, p) => refuse(r, 'create or update', name, p[refParam])) as Handler, PATCH: needing('update'), DELETE: needing('remove') };
}

function addCollection(router: AdminRouter, kind: Kind): void {
  const name = kind.entity;
  router.add(`/${kind.path}`, {
    GET: (r) => {
      const l = lookup(r);
      const customId = name === 'consumers' ? r.query.get('custom_id') : null;
      if (customId !== null) {
        const found = r.snapshot.consumersByCustomId.get(customId);
        return sendJson(r.res, 200, { data: found ? [viewOf(name, found, r.revealSecrets)] : [], next: null });
      }
      sendPage(r, l.all(name), view(r, name));
    },
    POST: (r) => refuse(r, 'create', name),
  });
  const find = (r: AdminRequest, p: Record<string, string>) => lookup(r).find(name, p.ref);
  router.add(`/${kind.path}/:ref`, {
    GET: (r, p) => {
      const e = find(r, p);
      return e === undefined ? notFound(r) : sendJson(r.res, 200, viewOf(name, e, r.revealSecrets));
    },
    ...itemWrites(name, find, 'ref'),
  });
}

function addRelation(router: AdminRouter, rel: Relation): void {
  const parentPath = KINDS[rel.parent].path;
  const parentOf = (r: AdminRequest, p: Record<string, string>) => lookup(r).find(rel.parent, p.parent);

  router.add(`/${parentPath}/:parent/${rel.nested}`, {
    GET: (r, p) => {
      const parent = parentOf(r, p);
      if (parent === undefined) return notFound(r);
      sendPage(r, lookup(r).childrenOf(rel, parent.id), view(r, rel.child));
    },
    POST: (r, p) => (parentOf(r, p) === undefined ? notFound(r) : refuse(r, 'create', rel.child)),
  });

  const childOf = (r: AdminRequest, p: Record<string, string>) => {
    const parent = parentOf(r, p);
    return parent === undefined ? undefined : lookup(r).findChild(rel, parent.id, p.child);
  };
  router.add(`/${parentPath}/:parent/${rel.nested}/:child`, {
    GET: (r, p) => {
      const child = childOf(r, p);
      return child === undefined ? notFound(r) : sendJson(r.res, 200, viewOf(rel.child, child, r.revealSecrets));
    },
    ...itemWrites(rel.child, childOf, 'child'),
    PUT: (r, p) => (parentOf(r, p) === undefined ? notFound(r) : refuse(r, 'create or update', rel.child, p.child)),
  });

  // The entity a child points to, e.g. /routes/{route}/service.
  const foreign = (r: AdminRequest, p: Record<string, string>) => {
    const child = lookup(r).find(rel.child, p.child);
    const parentId = child?.[rel.field];
    return typeof parentId === 'string' ? lookup(r).find(rel.parent, parentId) : undefined;
  };
  router.add(`/${KINDS[rel.child].path}/:child/${rel.field}`, {
    GET: (r, p) => {
      const parent = foreign(r, p);
      return parent === undefined ? notFound(r) : sendJson(r.res, 200, viewOf(rel.parent, parent, r.revealSecrets));
    },
    PATCH: (r, p) => (foreign(r, p) === undefined ? notFound(r) : refuse(r, 'update', rel.parent)),
  });
}

/** Kong's entity endpoints, read-only as in DB-less mode. */
export function addEntityRoutes(router: AdminRouter): void {
  for (const kind of Object.values(KINDS)) addCollection(router, kind);
  for (const rel of RELATIONS) addRelation(router, rel);
}
