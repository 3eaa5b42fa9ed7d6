/**
 * Hosts on one machine for the cluster tests: a network namespace per host (`ip netns add`), each
 * with a veth pair into a bridge of the test's own and an address in a private /24 that only the
 * test uses; the test process (the root namespace) gets the bridge's address, so it reaches every
 * host and every host reaches it. Processes start in a host with `wrap(host)` as the command
 * prefix, and `kill(host)` SIGKILLs everything running in it: a host lost, not one process.
 *
 * Needs root and the `ip` tool (both here and in CI). Where a namespace cannot be made (or
 * MLPIPE_TEST_NETNS=0), `hosts()` says why and gives loopback "hosts" instead: separate processes
 * sharing 127.0.0.1, never a shared directory.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server } from 'node:net';

export interface Hosts {
  /** 'netns': one network namespace per host; 'loopback': the fallback, with the reason. */
  mode: 'netns' | 'loopback';
  why?: string;
  /** The address host `name` listens on and is reached at. */
  ip(name: string): string;
  /** The test process's own address on the hosts' network. */
  selfIp: string;
  /** The command prefix that runs a process in host `name` (empty on loopback). */
  wrap(name: string): string[];
  /** SIGKILLs every process of host `name` (netns); on loopback the caller kills its own. */
  kill(name: string): void;
  /** Forwards `selfIp:<port>` to `target` (host:port on this machine's loopback); returns the port. */
  forward(target: { host: string; port: number }): Promise<number>;
  teardown(): Promise<void>;
}

const ip = (args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

export async function hosts(names: string[]): Promise<Hosts> {
  const tag = randomBytes(2).toString('hex');
  const subnet = `10.${200 + (parseInt(tag, 16) % 50)}.${parseInt(tag.slice(2), 16) % 250}`;
  const bridge = `mlpbr${tag}`;
  const ns = (name: string) => `mlp-${tag}-${name}`;
  const made: string[] = [];
  const servers: Server[] = [];
  const closeServers = async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
  };
  const forwarder = (bindIp: string) => async (target: { host: string; port: number }) => {
    const server = createServer((c) => {
      const up = createConnection(target);
      c.pipe(up).pipe(c);
      c.on('error', () => up.destroy());
      up.on('error', () => c.destroy());
    });
    servers.push(server);
    await new Promise<void>((r, j) => server.once('error', j).listen(0, bindIp, () => r()));
    return (server.address() as { port: number }).port;
  };
  const teardown = async () => {
    await closeServers();
    for (const n of made) {
      try {
        for (const pid of ip(['netns', 'pids', n]).split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone already
      }
      try {
        ip(['netns', 'del', n]);
      } catch {
        // gone already
      }
    }
    try {
      ip(['link', 'del', bridge]);
    } catch {
      // never made
    }
  };
  try {
    if (process.env.MLPIPE_TEST_NETNS === '0') throw new Error('MLPIPE_TEST_NETNS=0 asks for loopback');
    ip(['link', 'add', bridge, 'type', 'bridge']);
    ip(['addr', 'add', `${subnet}.254/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
    names.forEach((name, i) => {
      const n = ns(name);
      const veth = `mlpv${tag}${i}`;
      ip(['netns', 'add', n]);
      made.push(n);
      ip(['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', n]);
      ip(['link', 'set', veth, 'master', bridge, 'up']);
      ip(['-n', n, 'addr', 'add', `${subnet}.${i + 1}/24`, 'dev', 'eth0']);
      ip(['-n', n, 'link', 'set', 'eth0', 'up']);
      ip(['-n', n, 'link', 'set', 'lo', 'up']);
    });
  } catch (e) {
    await teardown();
    const why =
      'network namespaces could not be made (' +
      `${((e as { stderr?: string }).stderr || (e as Error).message).trim()}): hosts are separate ` +
      'processes on loopback';
    return {
      mode: 'loopback',
      why,
      ip: () => '127.0.0.1',
      selfIp: '127.0.0.1',
      wrap: () => [],
      kill: () => undefined,
      // On loopback everything already reaches the target.
      forward: async (t) => t.port,
      teardown: closeServers,
    };
  }
  const index = new Map(names.map((n, i) => [n, i + 1]));
  const known = (name: string) => {
    if (!index.has(name)) throw new Error(`no host ${name} (hosts: ${names.join(', ')})`);
    return name;
  };
  return {
    mode: 'netns',
    ip: (name) => `${subnet}.${index.get(known(name))}`,
    selfIp: `${subnet}.254`,
    wrap: (name) => ['ip', 'netns', 'exec', ns(known(name))],
    kill(name) {
      for (const pid of ip(['netns', 'pids', ns(known(name))])
        .split(/\s+/)
        .filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // exited meanwhile
        }
      }
    },
    forward: forwarder(`${subnet}.254`),
    teardown,
  };
}
