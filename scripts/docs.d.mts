// Types for scripts/docs.mjs, which plain `node scripts/docs.mjs` runs (it loads the sources through tsx).
/** Every generated file, by path from the repository root, with the content `node scripts/docs.mjs write` gives it. */
export function generatedFiles(): Promise<Map<string, string>>;
