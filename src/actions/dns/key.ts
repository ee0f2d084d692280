// The TSIG key, from the file `tsig-keygen` writes (BIND's own syntax, which named.conf includes as is).
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { errorOf, failureOf } from '../../errors.ts';
import { Failure, failure } from '../../failures.ts';
import { resolveOwnedPath } from '../../ownership.ts';

/** The algorithms a key may use: what `tsig-keygen` offers that is still sound, by their wire names. */
export const ALGORITHMS = { 'hmac-sha256': 'sha256', 'hmac-sha512': 'sha512' } as const;
export type Algorithm = keyof typeof ALGORITHMS;

export interface TsigKey {
  /** As in the key file ("failover"), compared case-insensitively as DNS names are. */
  name: string;
  algorithm: Algorithm;
  secret: Buffer;
}

/**
 * named.conf's comments (C-style blocks, // and # to the end of the line) blanked, outside quoted strings only: a base64 secret may
 * hold "//" (about one tsig-keygen key in a hundred), which a plain pattern took for a comment, cutting
 * the secret short ("no secret") — the cause of the dns tests that failed once in a dozen runs.
 */
function withoutComments(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; ) {
    const c = text[i]!;
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      const stop = end < 0 ? text.length : end + 1;
      out += text.slice(i, stop);
      i = stop;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      out += ' ';
    } else if (c === '#' || (c === '/' && text[i + 1] === '/')) {
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
      out += ' ';
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/**
 * `key "NAME" { algorithm hmac-sha256; secret "BASE64"; };`, comments allowed as named.conf allows
 * them. One key per file: which one a run signs with must not depend on the order of a file.
 */
export function parseKeyFile(text: string): TsigKey | string {
  const bare = withoutComments(text).trim();
  const blocks = [...bare.matchAll(/\bkey\s+("([^"]+)"|([A-Za-z0-9._-]+))\s*\{([^}]*)\}\s*;/g)];
  if (blocks.length !== 1)
    return blocks.length === 0
      ? 'no key "NAME" { algorithm ...; secret "..."; }; block in it'
      : `${blocks.length} key blocks in it, one expected`;
  const block = blocks[0]!;
  const name = (block[2] ?? block[3])!;
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?$/.test(name) || name.length > 253)
    return `key name ${JSON.stringify(name)} is not a DNS name`;
  const body = block[4]!;
  const algorithm = /\balgorithm\s+"?([A-Za-z0-9.-]+?)"?\s*;/.exec(body)?.[1]?.toLowerCase().replace(/\.$/, '');
  const secret = /\bsecret\s+"([A-Za-z0-9+/=\s]+)"\s*;/.exec(body)?.[1]?.replace(/\s/g, '');
  if (!algorithm) return 'its key block has no "algorithm ...;"';
  if (!(algorithm in ALGORITHMS))
    return `algorithm ${algorithm} is not one this action signs with (${Object.keys(ALGORITHMS).join(', ')})`;
  if (!secret) return 'its key block has no secret "BASE64";';
  const bytes = Buffer.from(secret, 'base64');
  // A secret shorter than 16 bytes is what a typo or a truncated copy leaves.
  if (bytes.length < 16 || bytes.toString('base64').replace(/=+$/, '') !== secret.replace(/=+$/, ''))
    return 'its secret is not the base64 of a key of 16 bytes or more';
  return { name, algorithm: algorithm as Algorithm, secret: bytes };
}

/** Who a run is, for the file's rule: the key is for Sentinel's user, and only that user's group may share it. */
export interface Reader {
  uid: number;
  gid: number;
}

export function currentReader(): Reader {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}

/**
 * The key file read under its own rule, stricter than the config's: owned by root (or the user the run
 * is), group-readable at most and then by the run's own group (root:redis 0640, as BIND keeps
 * rndc.key), never writable by anyone but its owner, never readable by others. The directories above
 * it are checked as the config's are. Every problem is a Failure (exit 2: a retry reads the same file).
 */
export function readKey(path: string, reader: Reader = currentReader()): TsigKey | Failure {
  const where = `key file ${path}`;
  const unreadable = (err: unknown) =>
    failure('file-unreadable', {
      noun: 'TSIG key',
      path,
      errno: (err as NodeJS.ErrnoException).code ?? (err as Error).message,
      fix: 'write it with tsig-keygen -a hmac-sha256 NAME > FILE, readable by the user Sentinel runs as',
    });
  let real: string;
  try {
    real = resolveOwnedPath(path, reader.uid, 'TSIG key', path);
  } catch (err) {
    return failureOf(err) ?? unreadable(err);
  }
  let fd: number;
  try {
    fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return unreadable(err);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return failure('file-not-regular', { what: where });
    const mode = st.mode & 0o7777;
    const problem =
      st.uid !== 0 && st.uid !== reader.uid
        ? `is owned by uid ${st.uid}, not root`
        : mode & 0o7137
          ? `has mode ${mode.toString(8).padStart(4, '0')}, more than 0640 allows`
          : mode & 0o040 && reader.uid !== 0 && st.gid !== reader.gid
            ? `is readable by group ${st.gid}, not this user's group ${reader.gid}`
            : undefined;
    if (problem) return failure('dns-key-exposed', { path, problem });
    const parsed = parseKeyFile(readFileSync(fd, 'utf8'));
    return typeof parsed === 'string' ? failure('dns-key-invalid', { path, problem: parsed }) : parsed;
  } catch (err) {
    return unreadable(err);
  } finally {
    closeSync(fd);
  }
}

/** For a config check: the key as a run would read it, or its problem thrown (exit 2). */
export function keyOrThrow(path: string): TsigKey {
  const key = readKey(path);
  if (key instanceof Failure) throw errorOf(key);
  return key;
}
