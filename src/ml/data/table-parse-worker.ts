// Worker-thread entry of table-parse.ts: parses one table and posts it back (or the error).
import { parentPort, workerData } from 'node:worker_threads';
import { DataError } from './sources.ts';
import { parseTableHere, type TableRequest, type ThreadReply } from './table-parse.ts';

const { buf, request } = workerData as { buf: Uint8Array; request: TableRequest };
let reply: ThreadReply;
try {
  reply = { ok: true, dataset: await parseTableHere(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength), request) };
} catch (e) {
  reply = { ok: false, message: (e as Error).message, dataError: e instanceof DataError };
}
parentPort!.postMessage(reply);
