// The node:tls options that carry out a service's upstream TLS settings, for both forwarders (undici's connector
// and node:https's agents take the same ones).
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls';
import type { UpstreamTls } from '../config/upstream-tls';

/**
 * The certificates in a verified chain, the upstream's own first and the trusted one that ends it last, as node:tls
 * gives it to checkServerIdentity: each certificate's issuer, taken from what the upstream sent and then from the
 * trusted store; a self-signed certificate is its own issuer.
 */
function chainLength(cert: PeerCertificate): number {
  let n = 1;
  let c = cert as PeerCertificate & { issuerCertificate?: PeerCertificate };
  while (n <= 100) {
    const issuer = c.issuerCertificate;
    if (issuer === undefined || issuer === c || issuer.fingerprint256 === c.fingerprint256) break;
    c = issuer;
    n++;
  }
  return n;
}

/**
 * Node has no verify depth option (OpenSSL's SSL_CTX_set_verify_depth is not exposed): the depth is checked where
 * node:tls checks the name, once OpenSSL has verified the chain and before the connection is used; an error here
 * fails the handshake as a verification error does. A resumed session skips it, and was checked with the same
 * settings: sessions are cached per pool, and pools per TLS settings.
 */
function verifierWithDepth(depth: number): (hostname: string, cert: PeerCertificate) => Error | undefined {
  return (hostname, cert) => {
    const nameError = checkServerIdentity(hostname, cert);
    if (nameError !== undefined) return nameError;
    const between = chainLength(cert) - 2; // neither the upstream's own certificate nor the trusted one counts
    if (between <= depth) return undefined;
    const err: NodeJS.ErrnoException = new Error(`upstream certificate chain too long: ${between} CA certificates before a trusted one, tls_verify_depth allows ${depth}`);
    err.code = 'CERT_CHAIN_TOO_LONG';
    return err;
  };
}

const acceptAnyName = () => undefined;

// Made once per settings: the WebSocket path connects with them per handshake.
const optionsOf = new WeakMap<UpstreamTls, Readonly<ConnectionOptions>>();

/** The TLS options for an upstream's connections (to be spread, not changed). */
export function tlsConnectOptions(tls: UpstreamTls): Readonly<ConnectionOptions> {
  let options = optionsOf.get(tls);
  if (options === undefined) {
    options = Object.freeze(optionsFor(tls));
    optionsOf.set(tls, options);
  }
  return options;
}

function optionsFor(tls: UpstreamTls): ConnectionOptions {
  const options: ConnectionOptions = { rejectUnauthorized: tls.verify };
  if (tls.verify) {
    if (tls.ca !== undefined) options.ca = [...tls.ca];
    options.checkServerIdentity = verifierWithDepth(tls.verifyDepth);
  } else options.checkServerIdentity = acceptAnyName; // its answer would be ignored: not worth computing
  if (tls.cert !== undefined) {
    options.cert = tls.cert;
    options.key = tls.key;
  }
  return options;
}
