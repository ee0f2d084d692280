// One lab for one test: built, handed to the body, torn down pass or fail (its logs kept when it
// failed, for the post-mortem), and no namespace left behind. Needs root.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { DEFAULT_VIP, isRoot, Lab, type LabOptions } from './lab.ts';

export async function withLab(t: TestContext, opts: LabOptions, body: (lab: Lab) => Promise<void>): Promise<void> {
  assert.ok(isRoot(), 'the lab tests need root (network namespaces, sudoers); run them as root');
  const lab = await Lab.start({ vip: DEFAULT_VIP, log: (l) => t.diagnostic(l), ...opts });
  let failed = true;
  try {
    await body(lab);
    failed = false;
  } finally {
    lab.teardownSync({ keepDir: failed });
    if (failed) t.diagnostic(`lab logs kept in ${lab.dir}`);
    assert.deepEqual(await Lab.existingNamespaces(lab.id), [], 'teardown left namespaces behind');
  }
}
