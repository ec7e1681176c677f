import { randomUUID } from 'node:crypto';

/** This process's id, as Kong's node_id: new at every start. */
export const NODE_ID = randomUUID();
