// watch's Prometheus metrics (metrics.listen), with prom-client. Loaded only by watch, and only when
// configured: the client library costs its load time, and the hook's failover path must not pay it
// (scripts/build.mjs bundles it as a lazily required file of its own).
import { createServer, type Server } from 'node:http';
import type * as Prom from 'prom-client';
import { failure } from '../failures.ts';
import type { Logger } from '../log.ts';
import { gaugesAfter, MASTER_GAUGES, type MasterGauges, withLastRun } from '../pipeline/gauges.ts';
import { readLastRun } from '../state/last-run.ts';
import type { WatchMetrics } from './watcher.ts';

export interface MetricsServer {
  metrics: WatchMetrics;
  /** Where it listens (the port chosen when 0 was asked for); undefined when it could not listen. */
  address: { host: string; port: number } | undefined;
  close(): Promise<void>;
}

/** Seconds from a failover's first announcement to its first change in place: most land well under a second. */
const APPLIED_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30];

async function loadPromClient(): Promise<typeof Prom> {
  const mod = await import('prom-client');
  // Bundled, the CommonJS build arrives as a default export.
  return (mod as unknown as { default?: typeof Prom }).default ?? mod;
}

/**
 * Serve GET /metrics at `listen`. A port that cannot be had is logged and watch goes on without metrics:
 * a monitoring problem must never stop the failovers.
 */
export async function startMetrics(
  listen: { host: string; port: number },
  stateDir: () => string,
  log: Logger,
): Promise<MetricsServer> {
  const prom = await loadPromClient();
  const registry = new prom.Registry();
  prom.collectDefaultMetrics({ register: registry });
  const masters = new Map<string, MasterGauges>();
  let configured: readonly string[] = [];
  new prom.Gauge({ name: 'sentinel_hook_up', help: 'watch is running (1).', registers: [registry] }).set(1);
  for (const [name, help, field] of MASTER_GAUGES) {
    new prom.Gauge({
      name,
      help,
      labelNames: ['master'],
      registers: [registry],
      // At each scrape: the last-run record is the one status reads, whoever wrote it (watch or the hook).
      collect() {
        this.reset();
        for (const master of configured) {
          const g = withLastRun(masters.get(master) ?? {}, readLastRun(stateDir(), master))[field];
          if (g !== undefined) this.set({ master }, g);
        }
      },
    });
  }
  const events = new prom.Counter({
    name: 'sentinel_hook_events_total',
    help: 'Failover announcements heard from the Sentinels, by channel.',
    labelNames: ['kind'],
    registers: [registry],
  });
  const reconciles = new prom.Counter({
    name: 'sentinel_hook_reconcile_total',
    help: 'Reconciles of a master, by outcome (error: ended in an error rather than an outcome).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const connected = new prom.Gauge({
    name: 'sentinel_hook_sentinel_connected',
    help: 'Whether watch is subscribed to this Sentinel (1) or not (0).',
    labelNames: ['sentinel'],
    registers: [registry],
  });
  const applied = new prom.Histogram({
    name: 'sentinel_hook_event_to_applied_seconds',
    help: 'From the failover announcement watch acted on to its first change in place here (a VIP added).',
    buckets: APPLIED_BUCKETS,
    registers: [registry],
  });

  const metrics: WatchMetrics = {
    event: (kind) => events.inc({ kind }),
    ran(master, result, reconcile) {
      masters.set(master, gaugesAfter(result, masters.get(master)));
      if (reconcile) reconciles.inc({ outcome: result.outcome });
    },
    reconcileFailed(master) {
      masters.set(master, { ...masters.get(master), consistent: 0 });
      reconciles.inc({ outcome: 'error' });
    },
    sentinel: (address, up) => connected.set({ sentinel: address }, up ? 1 : 0),
    applied: (seconds) => applied.observe(seconds),
    configured(names, sentinels) {
      configured = names;
      for (const m of masters.keys()) if (!names.includes(m)) masters.delete(m);
      connected.reset();
      // Not connected until subscribed: a Sentinel never reached shows as 0, not as absent.
      for (const s of sentinels) connected.set({ sentinel: s }, 0);
    },
  };

  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`),
    );
  });
  const address = await new Promise<MetricsServer['address']>((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = failure('metrics-listen-failed', {
        host: listen.host,
        port: listen.port,
        errno: err.code ?? err.message,
      });
      log.error({ code: why.code, listen }, why.line());
      resolve(undefined);
    });
    server.listen(listen.port, listen.host, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? { host: listen.host, port: a.port } : undefined);
    });
  });
  if (address)
    log.info(
      { metrics: `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}/metrics` },
      'serving metrics',
    );
  return {
    metrics,
    address,
    close: () =>
      new Promise<void>((resolve) => {
        if (!address) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
