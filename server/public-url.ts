import { BlockList, isIP } from 'node:net';

// Addresses no host on the internet can reach us at (IANA special-purpose registries). An
// IPv4-mapped IPv6 address is checked against the IPv4 ranges by BlockList itself.
const NON_PUBLIC_ADDRESSES = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network", including the unspecified 0.0.0.0
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 3], // multicast and reserved, up to the broadcast address
] as const) {
  NON_PUBLIC_ADDRESSES.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 127], // unspecified and loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  NON_PUBLIC_ADDRESSES.addSubnet(network, prefix, 'ipv6');
}

// Names that only ever resolve inside a machine or a private network (RFC 6761, 6762, 8375, 2606).
const NON_PUBLIC_SUFFIXES = ['localhost', 'local', 'internal', 'home.arpa', 'test', 'invalid'];

/**
 * Why a host on the internet (the payment gateway sending a webhook) cannot reach `url`, or
 * `undefined` when it may: `url` names a loopback, unspecified, private, link-local or
 * multicast address, `localhost` or another name that never resolves publicly, or a
 * single-label host. Pure: nothing is resolved, so a public name pointing at a private
 * address passes.
 */
export function whyNotPublic(url: string): string | undefined {
  const hostname = new URL(url).hostname
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  const family = isIP(hostname);
  if (family !== 0) {
    return NON_PUBLIC_ADDRESSES.check(hostname, family === 6 ? 'ipv6' : 'ipv4')
      ? `${hostname} is a loopback, private or otherwise non-public address`
      : undefined;
  }
  if (NON_PUBLIC_SUFFIXES.some((suffix) => hostname === suffix || hostname.endsWith(`.${suffix}`))) {
    return `${hostname} only resolves on this machine or a private network`;
  }
  if (!hostname.includes('.')) return `${hostname} is not a public domain name`;
  return undefined;
}
