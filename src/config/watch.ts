import { readlinkSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { log } from '../log';

export interface WatchOptions {
  /** Quiet time after the last event before `onChange` runs. */
  debounceMs?: number;
  /** Upper bound on that wait while events keep coming. */
  maxWaitMs?: number;
}

export interface ConfigWatcher {
  close(): Promise<void>;
}

/**
 * Names in the file's directory whose change can change what the file reads: the file itself and, when it is a
 * relative symlink, the first hop of its target (Kubernetes mounts `kong.yml -> ..data/kong.yml` and swaps `..data`).
 */
function watchedNames(file: string): Set<string> {
  const names = new Set([basename(file)]);
  try {
    const target = readlinkSync(file);
    if (!isAbsolute(target)) names.add(target.split('/')[0]);
  } catch {
    // not a symlink (or not there yet): the name itself is enough
  }
  return names;
}

/**
 * Calls `onChange` when the config file may have changed: in-place writes, rename-style saves (vim, `git checkout`)
 * and symlink swaps. The directory is watched, not the file, so a replaced inode is still seen. Events are debounced
 * and never overlap: events that arrive while `onChange` runs lead to one more run after it.
 */
export async function watchConfigFile(file: string, onChange: () => void | Promise<void>, opts: WatchOptions = {}): Promise<ConfigWatcher> {
  const debounceMs = opts.debounceMs ?? 100;
  const maxWaitMs = opts.maxWaitMs ?? 1000;
  const path = resolve(file);
  const dir = dirname(path);
  const names = watchedNames(path);

  let timer: NodeJS.Timeout | undefined;
  let firstEventAt = 0;
  let running = false;
  let pending = false;
  let closed = false;

  const run = async () => {
    timer = undefined;
    firstEventAt = 0;
    running = true;
    try {
      await onChange();
    } catch (err) {
      log('error', 'config reload failed', { error: (err as Error).message });
    } finally {
      running = false;
    }
    if (pending && !closed) {
      pending = false;
      schedule();
    }
  };

  const schedule = () => {
    if (closed) return;
    if (running) {
      pending = true;
      return;
    }
    const now = Date.now();
    if (firstEventAt === 0) firstEventAt = now;
    clearTimeout(timer);
    timer = setTimeout(run, Math.max(0, Math.min(debounceMs, firstEventAt + maxWaitMs - now)));
  };

  const watcher: FSWatcher = watch(dir, {
    depth: 0,
    ignoreInitial: true,
    followSymlinks: false,
    ignored: (p: string) => p !== dir && !names.has(basename(p)),
  });
  watcher.on('all', schedule);
  watcher.on('error', (err) => log('warn', 'config watcher error', { error: (err as Error).message }));
  await new Promise<void>((ready) => watcher.once('ready', ready));

  return {
    close: async () => {
      closed = true;
      clearTimeout(timer);
      await watcher.close();
    },
  };
}
