// TLS on the proxy's (and Admin API's) `ssl` listeners: Kong's defaults (kong/templates/kong_defaults.lua
// ssl_cipher_suite = intermediate, kong/conf_loader/constants.lua), the default certificate, and the certificate
// for a client's server name chosen as kong/runloop/certificate.lua does. Every SecureContext is made when a
// snapshot is swapped in; a handshake only looks one up.
import { createSecureContext, type SecureContext, type TlsOptions } from 'node:tls';
import type { Snapshot } from '../config/snapshot';
import type { ServerCertificate } from '../config/certificates';
import { log } from '../log';

/** Mozilla's intermediate suite (v5.7), as Kong's `ssl_cipher_suite = intermediate`; TLS 1.3 suites are OpenSSL's. */
export const INTERMEDIATE_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'DHE-RSA-AES128-GCM-SHA256',
  'DHE-RSA-AES256-GCM-SHA384',
  'DHE-RSA-CHACHA20-POLY1305',
].join(':');

/** A certificate and key (PEM), with an optional second pair of the other key type (ECDSA + RSA). */
export interface CertificatePair {
  cert: string;
  key: string;
  certAlt?: string;
  keyAlt?: string;
}

/** What every TLS listener of the process shares. */
export interface TlsSettings {
  /** Served when the client sends no server name, or one no SNI names (Kong's ssl_cert / ssl_cert_key). */
  defaultCertificate: CertificatePair;
  /** 48 bytes: session tickets stay valid across reloads (and across a pool's workers, which get the same). */
  ticketKeys: Buffer;
}

/** Kong's protocol and cipher defaults (ssl_protocols TLSv1.2 TLSv1.3, prefer_server_ciphers off). */
const BASE_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: INTERMEDIATE_CIPHERS,
  honorCipherOrder: false,
  // Kong's ssl_session_timeout 1d.
  sessionTimeout: 86400,
} as const;

function pairOptions(p: CertificatePair): { cert: string | string[]; key: string | string[] } {
  // Both pairs in one context: OpenSSL serves the one the client's signature algorithms allow.
  if (p.certAlt !== undefined && p.keyAlt !== undefined) return { cert: [p.cert, p.certAlt], key: [p.key, p.keyAlt] };
  return { cert: p.cert, key: p.key };
}

export function secureContextOf(p: CertificatePair): SecureContext {
  return createSecureContext({ ...BASE_OPTIONS, ...pairOptions(p) });
}

/** Server options for a TLS listener: the default certificate, Kong's defaults, and certificate selection by SNI. */
export function tlsServerOptions(settings: TlsSettings, select: (servername: string) => SecureContext | undefined): TlsOptions {
  return {
    ...BASE_OPTIONS,
    ...pairOptions(settings.defaultCertificate),
    ticketKeys: settings.ticketKeys,
    SNICallback: (servername, done) => done(null, select(servername)),
  };
}

/**
 * The SecureContexts of one snapshot's certificates, and the lookup of kong/runloop/certificate.lua
 * find_certificate: the exact name, then its prefix wildcard (`*.example.com` for `api.example.com`, never for
 * a two-label name), then its suffix wildcard (`api.example.*`), then the `*` SNI; undefined (the listener's
 * default certificate) when none is configured.
 */
export class SniContexts {
  private readonly byName = new Map<string, SecureContext>();

  constructor(snapshot: Snapshot, previous: SniContexts | undefined) {
    const byId = new Map<string, SecureContext>();
    for (const [id, cert] of snapshot.certificatesById) {
      const context = previous?.contexts.get(cert) ?? build(cert);
      if (context !== undefined) {
        byId.set(id, context);
        this.contexts.set(cert, context);
      }
    }
    for (const [name, id] of snapshot.certificateIdBySni) {
      const context = byId.get(id);
      if (context !== undefined) this.byName.set(name, context);
    }
  }

  /** By parsed certificate: a reload keeps the context of every certificate it did not change. */
  readonly contexts = new Map<ServerCertificate, SecureContext>();

  get size(): number {
    return this.byName.size;
  }

  select(servername: string): SecureContext | undefined {
    if (this.byName.size === 0) return undefined;
    const name = servername.toLowerCase();
    return this.byName.get(name) ?? this.wildcard(name) ?? this.byName.get('*');
  }

  private wildcard(name: string): SecureContext | undefined {
    const firstDot = name.indexOf('.');
    if (firstDot === -1) return undefined;
    // `*.rest` only when the rest has a dot of its own (Kong: `([^.]+)(\.[^.]+\.\S+)`).
    if (firstDot > 0 && name.indexOf('.', firstDot + 1) > firstDot + 1) {
      const found = this.byName.get(`*${name.slice(firstDot)}`);
      if (found !== undefined) return found;
    }
    const lastDot = name.lastIndexOf('.');
    if (lastDot === name.length - 1) return undefined;
    return this.byName.get(`${name.slice(0, lastDot + 1)}*`);
  }
}

function build(cert: ServerCertificate): SecureContext | undefined {
  try {
    return secureContextOf(cert);
  } catch (err) {
    // Checked at load already; a certificate OpenSSL still refuses is left out rather than failing the swap.
    log('error', 'certificate not served: TLS context refused it', { certificate: cert.id, error: (err as Error).message });
    return undefined;
  }
}
