import { constants, setPriority } from 'node:os';

/**
 * Lowers the priority of the process `pid` (on Linux: of its main thread, which alone works under
 * `--single-threaded`), so that on a busy core the requests served by the gateway come first. Not the lowest:
 * against other busy processes a reload must still make progress (nice 19 made a load crawl on a saturated
 * machine).
 */
export function behindServing(pid: number): void {
  try {
    setPriority(pid, constants.priority.PRIORITY_BELOW_NORMAL);
  } catch {
    // not allowed here, or the process is gone: it keeps its priority
  }
}
