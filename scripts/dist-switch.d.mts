// Types for scripts/dist-switch.mjs, which plain `node scripts/build.mjs` runs (no TypeScript there).
export function makeBuildDir(root: string, now?: Date): string;
export function currentBuild(root: string): string | undefined;
export function switchDist(root: string, buildDir: string): string | undefined;
export function heldBuildDirs(): Set<string> | undefined;
export function pruneBuilds(root: string, keep: (string | undefined)[], held: Set<string> | undefined): string[];
