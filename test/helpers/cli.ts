import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = join(__dirname, '..', '..', 'bin', 'gateway');

export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-test-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): RunResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', input: opts.input, env: opts.env ?? process.env, cwd: opts.cwd, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** runCli without blocking, so several runs can go at once. */
export function runCliAsync(args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const status = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ status, stdout, stderr });
    });
  });
}

export interface RunningGateway {
  proc: ChildProcess;
  proxyPort: number;
  adminPort: number | undefined;
  configFile: string;
  /** Everything the process wrote to stderr so far. */
  logs(): string;
  /** Everything the process wrote to stdout so far (the access log, by default). */
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts the real CLI on ephemeral loopback ports and waits for its "listening" line. */
export function startGateway(
  config: string,
  opts: {
    args?: string[];
    env?: NodeJS.ProcessEnv;
    file?: string;
    /** false: leave the admin address to the environment */
    adminFlag?: boolean;
    /** How long loading may take before the start counts as failed (default 15 s). */
    startTimeoutMs?: number;
    /** A command the gateway runs under, with its arguments (`prlimit --nofile=…`). */
    wrap?: string[];
    /** The gateway script to run (default: this checkout's bin/gateway). */
    bin?: string;
  } = {},
): Promise<RunningGateway> {
  const configFile = opts.file ?? tempFile('kong.yml', config);
  const adminArgs = opts.adminFlag === false ? [] : ['--admin-listen', '127.0.0.1:0'];
  const args = [opts.bin ?? BIN, 'start', '-c', configFile, '--proxy-listen', '127.0.0.1:0', ...adminArgs, ...(opts.args ?? [])];
  const [command, ...prefix] = [...(opts.wrap ?? []), process.execPath];
  const proc = spawn(command, [...prefix, ...args], { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`gateway did not start in time:\n${stderr}${stdout}`));
    }, opts.startTimeoutMs ?? 15_000);
    let listening = false;
    proc.stderr!.on('data', (d) => {
      stderr += d;
      if (listening) return;
      const m = /"msg":"gateway listening","proxy":"[^"]*:(\d+)","admin":"(?:[^"]*:(\d+)|off)"/.exec(stderr);
      if (m) {
        listening = true;
        clearTimeout(timer);
        const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
        resolve({
          proc,
          proxyPort: Number(m[1]),
          adminPort: m[2] ? Number(m[2]) : undefined,
          configFile,
          logs: () => stderr,
          output: () => stdout,
          stop: (signal = 'SIGTERM') => {
            if (proc.exitCode !== null) return Promise.resolve(proc.exitCode);
            proc.kill(signal);
            return exited;
          },
        });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${stderr}`));
    });
  });
}
