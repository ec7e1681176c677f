// The real processes of the soak: an upstream that never answers 5xx, and the gateway's CLI.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'gateway');

/** An upstream on loopback answering 200 (and `X-Upstream: yes`) to everything, after reading the body. */
export function startUpstream() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Upstream': 'yes' });
      res.end('{"ok":true}');
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, close: () => (server.closeAllConnections(), server.close()) })));
}

/**
 * Starts `gateway start` on an ephemeral loopback port with the admin API off. `onLog` gets each JSON log line
 * (parsed) the gateway writes; lines are not kept.
 */
export function startGateway(configFile, timeouts, onLog) {
  const args = [BIN, 'start', '-c', configFile, '--proxy-listen', '127.0.0.1:0', '--admin-listen', 'off'];
  args.push('--client-header-timeout', String(timeouts.header), '--client-body-timeout', String(timeouts.body));
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let pending = '';
    let started = false;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (d) => {
      pending += d;
      let eol;
      while ((eol = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, eol);
        pending = pending.slice(eol + 1);
        let entry;
        try {
          entry = JSON.parse(line);
        } catch {
          entry = { level: 'error', msg: line };
        }
        if (!started && entry.msg === 'gateway listening') {
          started = true;
          resolve({ proc, port: Number(/:(\d+)$/.exec(entry.proxy)[1]) });
        }
        onLog(entry);
      }
    });
    proc.once('exit', (code) => {
      if (!started) reject(new Error(`the gateway exited with ${code} before listening`));
    });
  });
}

/** Resident set size of a process in KiB, from /proc/<pid>/status; NaN once the process is gone. */
export function rssKiB(pid) {
  try {
    return Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
  } catch {
    return NaN;
  }
}
