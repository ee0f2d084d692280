import { execAction } from './exec/index.ts';
import { hostsAction } from './hosts/index.ts';
import { vipAction } from './vip/index.ts';

/** Every action type the config may name. A new type is one entry here. */
export const actionTypes = [execAction, hostsAction, vipAction] as const;
