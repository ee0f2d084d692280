import type { SecureContext } from 'node:tls';
import { hookError } from '../errors.ts';
import { readOwnedFile } from '../ownership.ts';
import { loadNodeTls } from './resp.ts';

export interface SentinelTlsConfig {
  ca: string;
  cert?: string | undefined;
  key?: string | undefined;
  servername?: string | undefined;
}

/** What every TLS connection to a Sentinel is made with: the files read and checked once. */
export interface SentinelTls {
  context: SecureContext;
  servername?: string | undefined;
}

const loaded = new WeakMap<SentinelTlsConfig, Promise<SentinelTls>>();

/**
 * The CA, certificate and key of `sentinels.tls`, read like the config (whoever can replace the CA
 * decides which Sentinel we believe; the key is ours alone), once per config: a run asks the Sentinels
 * several times. node:tls is loaded here, only when TLS is configured. A bad file throws ConfigError (exit 2): a retry reads the same.
 */
export function loadSentinelTls(cfg: SentinelTlsConfig, uid = process.getuid?.() ?? 0): Promise<SentinelTls> {
  let tls = loaded.get(cfg);
  if (!tls) {
    tls = readSentinelTls(cfg, uid);
    loaded.set(cfg, tls);
  }
  return tls;
}

async function readSentinelTls(cfg: SentinelTlsConfig, uid: number): Promise<SentinelTls> {
  const read = (key: 'ca' | 'cert' | 'key', path: string) =>
    readOwnedFile(path, uid, {
      noun: `sentinels.tls.${key}`,
      fix: `set sentinels.tls.${key} to a PEM file Sentinel's user can read`,
      secret: key === 'key',
    });
  const ca = read('ca', cfg.ca);
  // A CA file without a certificate would trust nothing, and every Sentinel would look unverifiable.
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw hookError('tls-ca-empty', { ca: cfg.ca });
  const cert = cfg.cert === undefined ? undefined : read('cert', cfg.cert);
  const key = cfg.key === undefined ? undefined : read('key', cfg.key);
  const { createSecureContext } = await loadNodeTls();
  try {
    return { context: createSecureContext({ ca, ...(cert && key ? { cert, key } : {}) }), servername: cfg.servername };
  } catch (err) {
    // OpenSSL's words ("key values mismatch", "no start line") say which part is wrong.
    const which = cert ? `${cfg.cert} / ${cfg.key}` : cfg.ca;
    throw hookError('tls-unusable', { files: which, detail: (err as Error).message });
  }
}

/** OpenSSL's verdicts on the Sentinel's certificate (Node sets them as the error's code). */
const VERIFY_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_REVOKED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
]);

/**
 * A TLS failure that asking again will not change, with what to fix: the Sentinel's certificate did
 * not verify, or the Sentinel refused ours. Undefined for anything else (a reset, a timeout): that is
 * a Sentinel that did not answer.
 */
export function tlsRefusal(err: unknown): { error: string; fix: string } | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return undefined;
  const message = (err as Error).message;
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return {
      error: `TLS: ${message}`,
      fix: 'set sentinels.tls.servername to a name the certificate carries, or address the Sentinel by one',
    };
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return { error: `TLS: ${message}`, fix: "renew the Sentinel's certificate" };
  if (VERIFY_CODES.has(code)) return { error: `TLS: ${message}`, fix: 'check sentinels.tls.ca' };
  // The Sentinel's alert about our certificate (tls-auth-clients): "tlsv13 alert certificate required", "tlsv1 alert unknown ca".
  if (/^ERR_SSL_.*ALERT_(CERTIFICATE_|BAD_CERTIFICATE|UNKNOWN_CA|UNSUPPORTED_CERTIFICATE|ACCESS_DENIED)/.test(code)) {
    const alert = /:SSL routines:[^:]*:([^:]+):/.exec(message)?.[1] ?? code;
    return {
      error: `TLS: the Sentinel refused our certificate (${alert})`,
      fix: "check sentinels.tls.cert and key: a certificate the Sentinel's tls-ca-cert-file trusts",
    };
  }
  return undefined;
}
