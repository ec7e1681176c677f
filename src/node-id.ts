import cluster from 'node:cluster';
import { randomUUID } from 'node:crypto';

/** Where a pool's workers find their primary's node_id. */
export const NODE_ID_ENV = 'GATEWAY_NODE_ID';

/** This process's id, as Kong's node_id: new at every start; a pool's workers report their primary's. */
export const NODE_ID = (cluster.isWorker ? process.env[NODE_ID_ENV] : undefined) ?? randomUUID();
