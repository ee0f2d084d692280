#!/bin/bash
# Baseline for `npm run bench:failover`: the users' VIP script from seed 000 (one copy per node,
# hard-coded addresses), adapted to the lab. Only change: each node's own address and the lab's VIP
# come from the environment its Sentinel was started with (SEED_MY_IP, SEED_VIP …) instead of being
# edited into each node's copy, and the commands carry Debian's absolute paths.
# Same commands as the seed: sudo ip addr add / del, then one burst of `arping -A`.
# The seed's flaws are kept on purpose (no look before acting, `ip addr del`'s exit 2 ignored,
# one ARP burst of replies only): this is what the benchmark compares sentinel-hook against.
# SEED_LOG (optional, the lab sets it): one "start <epoch-ms> <pid> <args…>" and one
# "end <epoch-ms> <pid> 0" line per run, so that the lab can time the script as it times sentinel-hook.

MASTER_IP=${6}
MY_IP=${SEED_MY_IP:?SEED_MY_IP is not set}   # each node's own address
VIP=${SEED_VIP:-10.77.0.100}                  # VIP
NETMASK=${SEED_NETMASK:-24}                   # netmask
INTERFACE=${SEED_INTERFACE:-eth0}             # interface

log() {
        [ -n "${SEED_LOG}" ] && echo "$1 $(date +%s%3N) $$ ${*:2}" >> "${SEED_LOG}"
}

log start "$@"
if [ ${MASTER_IP} = ${MY_IP} ]; then
        sudo /usr/sbin/ip addr add ${VIP}/${NETMASK} dev ${INTERFACE}
        sudo /usr/bin/arping -q -c 3 -A ${VIP} -I ${INTERFACE}
        log end 0
        exit 0
else
        sudo /usr/sbin/ip addr del ${VIP}/${NETMASK} dev ${INTERFACE}
        log end 0
        exit 0
fi
exit 1
