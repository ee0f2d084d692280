// Run by tests in a child process (see startProbe): the Sentinel client against fake Sentinels whose
// replies may wedge it. Prints one JSON line per thing that happened.
//   resp-probe.ts ask HOST:PORT           one question (sendCommands), then exit
//   resp-probe.ts subscribe ADDRESS...    a subscription to +switch-master on each, until killed

import { splitAddress } from '../../src/sentinel/client.ts';
import { sendCommands } from '../../src/sentinel/resp.ts';
import { SentinelSubscription } from '../../src/sentinel/subscribe.ts';

const [mode, ...addresses] = process.argv.slice(2);
const say = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);

if (mode === 'ask') {
  const { host, port } = splitAddress(addresses[0]!);
  sendCommands(host, port, [['SENTINEL', 'get-master-addr-by-name', 'mymaster']], 5000).then(
    (replies) => say({ event: 'answer', replies }),
    (err: Error) => say({ event: 'error', name: err.name, message: err.message }),
  );
} else if (mode === 'subscribe') {
  for (const address of addresses) {
    new SentinelSubscription(address, ['+switch-master'], () => undefined, {
      message: (m) => say({ event: 'message', ...m }),
      subscribed: (sentinel) => say({ event: 'subscribed', sentinel }),
      lost: (sentinel, reason, retryInMs) => say({ event: 'lost', sentinel, reason, retryInMs }),
    }).start();
  }
} else {
  throw new Error(`unknown mode ${mode}`);
}
