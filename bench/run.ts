// `npm run bench`: start-up always; the lab benchmarks (failover, hosts push) need root and take
// minutes, so they run when asked: `npm run bench -- all`, or `npm run bench:failover` / `bench:hosts`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { benchStartup } from './startup.ts';

benchStartup();
if (process.argv.includes('all')) {
  for (const name of ['hosts', 'failover']) {
    const file = resolve(import.meta.dirname, `${name}.ts`);
    if (!existsSync(file)) continue;
    console.log(`\n== ${name} ==`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
    if (r.status !== 0) process.exitCode = 1;
  }
}
