// Getting a retired snapshot's memory back while nothing allocates. V8 collects its old generation when allocation
// reaches a limit, or when its memory reducer sees a quiet heap after a collection (8 s later, not always): an idle
// gateway that swapped a 100,000-consumer snapshot keeps the previous one (~55 MB of heap) until then, and a reload
// soon after adds its checking process on top. A full collection on demand (`gc()`) holds the event loop 30–100 ms.
// What starts an incremental one, marked beside the event loop (concurrently, in steps of a few ms) with a pause of
// a few ms at its end, is external memory: V8 starts incremental marking once external memory (ArrayBuffers) has
// grown 64 MB since the last full collection. One ArrayBuffer just over that, never written (its pages are never
// touched: no RSS), gone at the next collection, asks for exactly that.

// V8's external-memory soft limit above its level at the last full collection (kExternalAllocationSoftLimit).
const EXTERNAL_SOFT_LIMIT = 64 * 1024 * 1024;
// After a swap, what requests still running on the previous snapshot hold is let go before marking starts.
const AFTER_MS = 1000;

let pending: NodeJS.Timeout | undefined;

/** Asks V8 for an incremental full collection now (see above). */
export function startIncrementalCollection(): void {
  new ArrayBuffer(EXTERNAL_SOFT_LIMIT + 4096);
}

/** startIncrementalCollection in a moment: once, however often asked for meanwhile; never holds the process open. */
export function collectRetiredSoon(): void {
  if (pending !== undefined) return;
  pending = setTimeout(() => {
    pending = undefined;
    startIncrementalCollection();
  }, AFTER_MS);
  pending.unref();
}
