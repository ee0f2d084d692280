// A Redis client that writes through one address over and over and reports every attempt, one JSON
// line each on stdout: {"seq":1,"sent":<epoch ms>,"at":<epoch ms>,"ok":true,"server":"r2"} or
// {"seq":2,...,"ok":false,"err":"ECONNREFUSED"}.
// The lab runs it inside an app host's network namespace (`ip netns exec NS node writer.mjs JSON`):
// the lab's addresses exist only there. Plain JavaScript so it starts without a TypeScript loader.
//
// Each attempt is a new TCP connection (a client reconnecting after a failure), sending
// SET <key> <seq> and INFO server; a write counts as acknowledged on +OK. INFO's config_file names
// the lab host whose redis-server answered (its path contains the host's directory).
// Bounded: at most `maxAttempts` attempts and `durationMs` of running, and it stops on SIGTERM.
import net from 'node:net';

const opts = {
  host: '',
  port: 6379,
  key: 'lab:probe',
  intervalMs: 10,
  attemptTimeoutMs: 200,
  durationMs: 30_000,
  maxAttempts: 10_000,
  ...JSON.parse(process.argv[2] ?? '{}'),
};
if (!opts.host) {
  process.stderr.write('writer: host required\n');
  process.exit(2);
}

const serverOf = (info) => {
  const m = /config_file:(\S*)/.exec(info);
  const file = m?.[1] ?? '';
  const host = /\/hosts\/([^/]+)\//.exec(file);
  return host ? host[1] : file || 'unknown';
};

const resp = (...args) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('')}`;

let seq = 0;
let inFlight = 0;
let stopping = false;
const started = Date.now();

function attempt() {
  const my = ++seq;
  const sent = Date.now();
  inFlight++;
  let done = false;
  let buf = '';
  const socket = net.connect({ host: opts.host, port: opts.port });
  const finish = (result) => {
    if (done) return;
    done = true;
    inFlight--;
    clearTimeout(timer);
    socket.destroy();
    process.stdout.write(`${JSON.stringify({ seq: my, sent, at: Date.now(), ...result })}\n`);
  };
  const timer = setTimeout(() => finish({ ok: false, err: 'timeout' }), opts.attemptTimeoutMs);
  socket.setNoDelay(true);
  socket.on('connect', () => socket.write(resp('SET', opts.key, String(my)) + resp('INFO', 'server')));
  socket.on('error', (err) => finish({ ok: false, err: err.code ?? err.message }));
  socket.on('close', () => finish({ ok: false, err: 'closed' }));
  socket.on('data', (chunk) => {
    buf += chunk.toString('utf8');
    const eol = buf.indexOf('\r\n');
    if (eol < 0) return;
    const first = buf.slice(0, eol);
    if (first.startsWith('-')) return finish({ ok: false, err: first.slice(1, 80) });
    if (first !== '+OK') return finish({ ok: false, err: `unexpected ${first.slice(0, 40)}` });
    const rest = buf.slice(eol + 2);
    const head = /^\$(\d+)\r\n/.exec(rest);
    if (!head) return;
    const body = rest.slice(head[0].length);
    if (Buffer.byteLength(body) < Number(head[1])) return;
    finish({ ok: true, server: serverOf(body) });
  });
}

const tick = setInterval(() => {
  if (stopping) return;
  if (seq >= opts.maxAttempts || Date.now() - started >= opts.durationMs) return stop();
  // Never more attempts open at once than one timeout's worth of ticks.
  if (inFlight <= Math.ceil(opts.attemptTimeoutMs / opts.intervalMs)) attempt();
}, opts.intervalMs);

function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(tick);
  // Let open attempts report (each ends within attemptTimeoutMs), then leave.
  setTimeout(() => process.exit(0), opts.attemptTimeoutMs + 50).unref();
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
