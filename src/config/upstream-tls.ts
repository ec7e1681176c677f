// How the gateway talks TLS to an https service's upstream, computed once per service when a snapshot is built
// (kong/runloop/upstream_ssl.lua applies the same service fields per request in Kong).
import { createHash } from 'node:crypto';
import type { ServiceEntity } from './entities';

/**
 * nginx's proxy_ssl_verify_depth when a service sets no tls_verify_depth (Kong leaves it to nginx): the upstream's
 * certificate may be signed by one intermediate CA, which a trusted CA signed.
 */
export const DEFAULT_TLS_VERIFY_DEPTH = 1;

export interface UpstreamTls {
  /** Check the upstream's certificate chain and name (Kong's tls_verify); off: any certificate is accepted. */
  readonly verify: boolean;
  /**
   * The most CA certificates allowed between the upstream's certificate and the trusted one that ends its chain
   * (OpenSSL's verify depth: 0 is a certificate a trusted CA signed itself).
   */
  readonly verifyDepth: number;
  /** The PEMs trusted when verifying; undefined: the system's store. */
  readonly ca: readonly string[] | undefined;
  /** The certificate (with its chain) and private key presented to an upstream that asks for one (mTLS). */
  readonly cert: string | undefined;
  readonly key: string | undefined;
  /**
   * A digest of everything above: connections (and TLS sessions) are shared only by services whose TLS settings
   * are the same, a reload that changes a certificate's content gets new ones.
   */
  readonly id: string;
}

/** A certificate and its private key, as PEM. */
export interface CertificateKeyPair {
  readonly cert: string;
  readonly key: string;
}

/** Finds the certificates a service names; the config checks have made sure they exist. */
export interface CertificateLookup {
  certificate(id: string): CertificateKeyPair | undefined;
  caCertificate(id: string): string | undefined;
}

/**
 * An https service's TLS settings; undefined for an http service. `upstreamClientCertificate`: the client
 * certificate of the upstream the service balances over, used when the service names none (as Kong does).
 */
export function upstreamTlsOf(service: ServiceEntity, lookup: CertificateLookup, upstreamClientCertificate?: string): UpstreamTls | undefined {
  if (service.protocol !== 'https') return undefined;
  const clientCertificate = service.client_certificate ?? upstreamClientCertificate;
  const verify = service.tls_verify === true;
  const verifyDepth = service.tls_verify_depth ?? DEFAULT_TLS_VERIFY_DEPTH;
  const ca = service.ca_certificates?.length ? service.ca_certificates.map((id) => lookup.caCertificate(id)!) : undefined;
  const pair = clientCertificate === undefined ? undefined : lookup.certificate(clientCertificate);
  const digest = createHash('sha256');
  digest.update(JSON.stringify([verify, verifyDepth, ca ?? null, pair?.cert ?? null, pair?.key ?? null]));
  const tls = {
    verify,
    verifyDepth,
    ca: ca === undefined ? undefined : Object.freeze(ca),
    cert: pair?.cert,
    id: digest.digest('hex').slice(0, 32),
  } as UpstreamTls;
  // Not enumerable: whatever prints or serializes these settings never carries the private key.
  Object.defineProperty(tls, 'key', { value: pair?.key, enumerable: false });
  return Object.freeze(tls);
}
