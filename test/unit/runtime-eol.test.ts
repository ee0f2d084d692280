// `check` on a Node past its end of life: a warning naming the date and what to do; nothing on a
// supported one. (A hook run never refuses over it: an exit 2 would drop the failover.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runtimeWarning } from '../../src/commands/check.ts';

test('Node past its end of life: a warning with the date and the way out; supported lines: nothing', () => {
  const now = new Date('2026-12-03T12:00:00Z');
  assert.match(
    runtimeWarning('20.20.2', now)!,
    /^Node 20\.20\.2 is past its end of life \(2026-04-30\): .*sentinel-hook package/,
  );
  assert.match(runtimeWarning('18.19.0', now)!, /end of life \(2025-04-30\)/);
  assert.equal(runtimeWarning('22.23.5', now), undefined);
  assert.equal(runtimeWarning('24.22.3', now), undefined);
  assert.equal(runtimeWarning('20.20.2', new Date('2026-04-29T23:59:59Z')), undefined);
  assert.match(runtimeWarning('22.1.0', new Date('2027-05-01T00:00:00Z'))!, /2027-04-30/);
});
