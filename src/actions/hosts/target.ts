import { isHostname, ipVersion as isIP } from '../../values.ts';

/** One app server to push to. */
export interface PushTarget {
  /** As written in the config: how the target is named in the log and the table. */
  label: string;
  host: string;
  port: number;
}

/**
 * `host`, `host:port`, `[v6]:port`, or a bare IPv6 address (port 22). Host names must be RFC 1123
 * names, which also means they can never start with '-' and read as an ssh or rsync option.
 */
export function parsePushTarget(text: string): PushTarget | undefined {
  let host: string;
  let port = 22;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    if (isIP(host) !== 6) return undefined;
    if (bracketed[2]) port = Number(bracketed[2]);
  } else if (isIP(text) === 6) {
    host = text;
  } else {
    const m = /^([^:]+)(?::(\d{1,5}))?$/.exec(text);
    if (!m) return undefined;
    host = m[1]!;
    if (m[2]) port = Number(m[2]);
    if (isIP(host) !== 4 && !isHostname(host)) return undefined;
    if (host.endsWith('.')) host = host.slice(0, -1);
  }
  if (port < 1 || port > 65535) return undefined;
  // Host names are case-insensitive; OpenSSH lowercases them (and looks them up in known_hosts so).
  return { label: text, host: host.toLowerCase(), port };
}

/** rsync's remote spec: `user@host:path`, with an IPv6 host in brackets so its colons are not the separator. */
export function rsyncDestination(user: string, target: PushTarget, remotePath: string): string {
  const host = isIP(target.host) === 6 ? `[${target.host}]` : target.host;
  return `${user}@${host}:${remotePath}`;
}

/**
 * Quote one argument for a POSIX shell: inside single quotes nothing is special, and a single quote
 * itself becomes '\'' — so no value can end the quoting and inject a command. Used only for the
 * remote `after` command: sshd always hands the command line to the user's shell.
 */
export function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function remoteCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
