import type { ConsumerEntity } from '../../config/entities';
import type { AuthenticatedCredential, RequestContext } from '../../proxy/context';

// The headers Kong sets upstream once a consumer is known (lower-case: Node's request header keys).
const CONSUMER_ID = 'x-consumer-id';
const CONSUMER_CUSTOM_ID = 'x-consumer-custom-id';
const CONSUMER_USERNAME = 'x-consumer-username';
const CREDENTIAL_IDENTIFIER = 'x-credential-identifier';
const ANONYMOUS = 'x-anonymous-consumer';

/** The credential fields a plugin accepted, before they become an AuthenticatedCredential. */
interface AcceptedCredential {
  readonly id: string;
  readonly consumer: string;
}

// One AuthenticatedCredential per credential entity and snapshot, made on first use: nothing allocated per request.
const accepted = new WeakMap<AcceptedCredential, AuthenticatedCredential>();

export function authenticatedCredential(credential: AcceptedCredential, identifier: string): AuthenticatedCredential {
  let out = accepted.get(credential);
  if (out === undefined) {
    out = Object.freeze({ id: credential.id, consumerId: credential.consumer, identifier });
    accepted.set(credential, out);
  }
  return out;
}

/**
 * Accepts a username/secret credential (basic-auth, hmac-auth): its consumer is identified, and
 * X-Credential-Identifier is the credential's username, as Kong sets it for both. Returns no failure.
 */
export function acceptByUsername(ctx: RequestContext, credential: AcceptedCredential & { readonly username: string }): undefined {
  identify(ctx, ctx.snapshot.consumersById.get(credential.consumer)!, authenticatedCredential(credential, credential.username));
  return undefined;
}

/**
 * Identifies the request's consumer and tells the upstream, as Kong's auth plugins do: every header is set or
 * cleared, so what a previous auth plugin said (AND mode) never leaks through. Without a credential the consumer
 * is the anonymous fallback.
 */
export function identify(ctx: RequestContext, consumer: ConsumerEntity, credential: AuthenticatedCredential | undefined): void {
  ctx.consumer = consumer;
  ctx.credential = credential;
  ctx.anonymous = credential === undefined;
  const h = ctx.req.headers;
  h[CONSUMER_ID] = consumer.id;
  if (consumer.custom_id !== undefined) h[CONSUMER_CUSTOM_ID] = consumer.custom_id;
  else clear(h, CONSUMER_CUSTOM_ID);
  if (consumer.username !== undefined) h[CONSUMER_USERNAME] = consumer.username;
  else clear(h, CONSUMER_USERNAME);
  if (credential !== undefined) {
    h[CREDENTIAL_IDENTIFIER] = credential.identifier;
    clear(h, ANONYMOUS);
  } else {
    clear(h, CREDENTIAL_IDENTIFIER);
    h[ANONYMOUS] = 'true';
  }
}

/**
 * Accepts a credential that no consumer holds (ldap-auth: the directory vouched for it), as Kong does: every
 * consumer header is cleared, X-Credential-Identifier names the credential, and an anonymous consumer an
 * earlier OR-mode plugin set is replaced.
 */
export function identifyCredential(ctx: RequestContext, credential: AuthenticatedCredential): void {
  ctx.consumer = undefined;
  ctx.credential = credential;
  ctx.anonymous = false;
  const h = ctx.req.headers;
  clear(h, CONSUMER_ID);
  clear(h, CONSUMER_CUSTOM_ID);
  clear(h, CONSUMER_USERNAME);
  h[CREDENTIAL_IDENTIFIER] = credential.identifier;
  clear(h, ANONYMOUS);
}

/**
 * Removes a header an earlier auth plugin set (AND mode; the client's own copies are stripped on arrival):
 * `delete` only when it is there, since a delete is a runtime call even for a missing name.
 */
function clear(h: Record<string, unknown>, name: string): void {
  if (h[name] !== undefined) delete h[name];
}
