import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../test/lab/index.ts';
import { runOk } from '../test/lab/run.ts';

function newestMtime(dir: string, depth = 6): number {
  if (!existsSync(dir) || depth < 0) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path, depth - 1) : statSync(path).mtimeMs);
  }
  return newest;
}

function oldestMtime(dir: string): number {
  if (!existsSync(dir)) return 0;
  const files = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile());
  if (files.length === 0) return 0;
  return Math.min(...files.map((f) => statSync(join(dir, f.name)).mtimeMs));
}

/** Build the bundle (scripts/build.mjs) when dist/ is missing or older than anything in src/. */
export async function ensureBuilt(log: (line: string) => void): Promise<void> {
  const built = oldestMtime(join(REPO_ROOT, 'dist'));
  if (built > 0 && built >= newestMtime(join(REPO_ROOT, 'src'))) return;
  log('building sentinel-hook (scripts/build.mjs)');
  await runOk([process.execPath, join(REPO_ROOT, 'scripts', 'build.mjs')], {
    timeoutMs: 120_000,
    env: { ...process.env },
    cwd: REPO_ROOT,
  });
}
