/**
 * The in-process media relay on its own, for bench/media.ts: a child process (so its CPU can be
 * read apart from the load generator's) that serves offer/answer/delete/stats over IPC.
 */
import { InProcessRelay } from '../../src/media/index.ts';

interface Request {
  id: number;
  method: 'offer' | 'answer' | 'delete' | 'stats' | 'close';
  args: unknown[];
}

const relay = new InProcessRelay({
  portMin: Number(process.env.MEDIA_PORT_MIN ?? 46000),
  portMax: Number(process.env.MEDIA_PORT_MAX ?? 47999),
  mediaTimeoutMs: 60_000,
});

process.on('message', (message: Request) => {
  const { id, method, args } = message;
  const call = (relay[method] as (...a: unknown[]) => Promise<unknown>).apply(relay, args);
  call.then(
    (result) => process.send!({ id, result }),
    (e: Error) => process.send!({ id, error: e.message }),
  );
  if (method === 'close') void call.finally(() => setImmediate(() => process.exit(0)));
});
process.send!({ ready: true });
