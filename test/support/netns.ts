/**
 * Runs a command in a network namespace of its own: loopback, plus one veth pair whose end
 * carries 198.18.0.1 (the benchmarking range, RFC 2544). Nothing in it can reach any other
 * network (its default route ends in the pair). For browsers that will not put a loopback address in their ICE candidates (Firefox):
 * there they offer 198.18.0.1, which only the namespace itself can reach.
 */
import { spawn } from 'node:child_process';

export const PRIVATE_ADDRESS = '198.18.0.1';

const SETUP = [
  'ip link set lo up',
  'ip link add rs0 type veth peer name rs1',
  `ip addr add ${PRIVATE_ADDRESS}/24 dev rs0`,
  'ip link set rs0 up',
  'ip link set rs1 up',
  // Firefox gathers no candidate at all without a default route. This one leads into the veth
  // pair, whose other end is in the namespace too and forwards nothing: a dead end.
  'ip route add default dev rs0',
].join(' && ');

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runInPrivateNetwork(command: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<CommandResult> {
  // As root a plain network namespace; otherwise a user namespace that maps us to root in it.
  const unshare = process.getuid?.() === 0 ? ['--net'] : ['--net', '--map-root-user'];
  const quoted = command.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', [...unshare, 'bash', '-c', `${SETUP} && exec ${quoted}`], { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
