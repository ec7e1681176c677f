import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RedisServer {
  port: number;
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
  /** Sends one command (inline protocol) and resolves with the raw reply. */
  command(line: string): Promise<string>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function launch(port: number, dir: string): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'];
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`redis-server did not start:\n${out}`));
    }, 15_000);
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        proc.stdout!.off('data', onData);
        proc.stdout!.resume();
        resolve(proc);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d) => (out += d));
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run redis-server (install the redis-server package): ${err.message}`));
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
}

function exited(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

/** A real redis-server on a free loopback port, with no persistence, for one test file. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gateway-redis-'));
  let proc = await launch(port, dir);
  return {
    port,
    kill: () => exited(proc, 'SIGKILL'),
    restart: async () => {
      await exited(proc, 'SIGKILL');
      proc = await launch(port, dir);
    },
    command: (line) =>
      new Promise((resolve, reject) => {
        const socket = new Socket();
        let reply = '';
        socket.setTimeout(5_000, () => socket.destroy(new Error('redis did not answer')));
        socket.on('data', (d) => {
          reply += d;
          if (reply.endsWith('\r\n')) {
            socket.end();
            resolve(reply);
          }
        });
        socket.once('error', reject);
        socket.connect(port, '127.0.0.1', () => socket.write(`${line}\r\n`));
      }),
    stop: () => exited(proc, 'SIGTERM'),
  };
}
