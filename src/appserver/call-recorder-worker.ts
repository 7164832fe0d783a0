/**
 * The call recorder's worker thread: its own connection to the SQLite file, writing the batches
 * the SIP thread posts (see `CallRecorder`). Answers each with its id, or the error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import path from 'node:path';
import { Store } from '../store/index.ts';
import { writeCallEvents, type CallEvent } from './call-events.ts';

const { file, nodeId } = workerData as { file: string; nodeId: string };
const store = await Store.open({ dataDir: path.dirname(file) });

parentPort!.on('message', (message: { id: number; batch: CallEvent[] }) => {
  writeCallEvents(store.db, message.batch, nodeId).then(
    () => parentPort!.postMessage({ id: message.id }),
    (err: unknown) => parentPort!.postMessage({ id: message.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
