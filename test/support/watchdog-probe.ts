// Run by test/unit/watchdog.test.ts in a child process: the watchdog with a short limit, then a main
// thread that either blocks (bounded: 20 s) or keeps answering between bursts of synchronous work.
//   watchdog-probe.ts LIMIT_MS block|answer
import { writeSync } from 'node:fs';
import { startWatchdog } from '../../src/watch/watchdog.ts';

const limitMs = Number(process.argv[2]);
const mode = process.argv[3];
// Synchronous, so that the test sees each line before what follows it can block.
const say = (event: string) => writeSync(1, `${JSON.stringify({ event })}\n`);

startWatchdog({ limitMs, fields: { probe: mode } });
say('started');
setTimeout(() => {
  if (mode === 'block') {
    say('blocking');
    const until = performance.now() + 20_000;
    while (performance.now() < until) {
      // the wedge: nothing else runs on this thread
    }
    say('not killed');
    return;
  }
  // Bursts of a third of the limit, three limits long: legitimate synchronous work, answered between.
  const until = performance.now() + 3 * limitMs;
  const burst = () => {
    const end = performance.now() + limitMs / 3;
    while (performance.now() < end) {
      // work
    }
    if (performance.now() < until) setTimeout(burst, 20);
    // else: nothing left to do; the watchdog keeps nothing alive, so the process ends here.
    else say('done');
  };
  burst();
}, 200);
