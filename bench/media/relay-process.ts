/**
 * The in-process media relay on its own, for bench/media.ts: a child process (so its CPU can be
 * read apart from the load generator's) that serves offer/answer/delete/stats over IPC.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { InProcessRelay } from '../../src/media/index.ts';

/** The relay's own event-loop stalls: what it can add to a packet's delay beyond the kernel's. */
const loop = monitorEventLoopDelay({ resolution: 1 });
loop.enable();

interface Request {
  id: number;
  method: 'offer' | 'answer' | 'delete' | 'stats' | 'close' | 'loopDelayReset' | 'loopDelay';
  args: unknown[];
}

const relay = new InProcessRelay({
  portMin: Number(process.env.MEDIA_PORT_MIN ?? 46000),
  portMax: Number(process.env.MEDIA_PORT_MAX ?? 47999),
  mediaTimeoutMs: 60_000,
});

process.on('message', (message: Request) => {
  const { id, method, args } = message;
  if (method === 'loopDelayReset') {
    loop.reset();
    process.send!({ id, result: null });
    return;
  }
  if (method === 'loopDelay') {
    process.send!({ id, result: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } });
    return;
  }
  const call = (relay[method] as (...a: unknown[]) => Promise<unknown>).apply(relay, args);
  call.then(
    (result) => process.send!({ id, result }),
    (e: Error) => process.send!({ id, error: e.message }),
  );
  if (method === 'close') void call.finally(() => setImmediate(() => process.exit(0)));
});
process.send!({ ready: true });
