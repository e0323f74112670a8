/** Worker thread entry of parallel export verification (see `parallel.ts`). */
import { parentPort } from "node:worker_threads";
import { type SegmentReport, verifySegment } from "./segment.js";

/** A slice of an export, transferred (not copied) to the worker. */
export interface SegmentTask {
  id: number;
  bytes: ArrayBuffer;
  length: number;
  firstLineNumber: number;
}

/** What the worker posts: once `ready` when loaded, then per task its report and buffer back. */
export type WorkerMessage = { ready: true } | { id: number; report: SegmentReport; bytes: ArrayBuffer };

parentPort?.on("message", (task: SegmentTask) => {
  const report = verifySegment(Buffer.from(task.bytes, 0, task.length), task.firstLineNumber);
  // The buffer goes back for reuse: allocating a fresh one per slice makes both threads' GCs churn.
  parentPort?.postMessage({ id: task.id, report, bytes: task.bytes } satisfies WorkerMessage, [task.bytes]);
});
parentPort?.postMessage({ ready: true } satisfies WorkerMessage);
