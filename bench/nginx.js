'use strict';
// nginx as a reverse proxy to the benchmark's upstream: the C proxy the gateway's cost is put beside. One process
// (no master: its pid is the one serving, so its CPU time and instructions are read from it alone), one worker's
// worth of connections, keep-alive both ways, no access log; what a tuned single-core nginx in front of one
// upstream looks like.

const { spawnSync } = require('node:child_process');
const { mkdirSync, mkdtempSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const net = require('node:net');

/** The nginx binary on PATH (or in /usr/sbin), or undefined when it is not installed. */
function nginxBinary() {
  for (const candidate of ['nginx', '/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return undefined;
}

/** A loopback port free right now (nginx cannot be told to pick one and say which). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Writes an nginx prefix directory proxying 127.0.0.1:`port` to the upstream; returns the command line
 * (binary and arguments) that runs it in the foreground.
 */
function nginxCommand(binary, port, upstreamPort) {
  const prefix = mkdtempSync(join(tmpdir(), 'bench-nginx-'));
  mkdirSync(join(prefix, 'logs'));
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(prefix, `${t}_temp`)};`).join('\n');
  writeFileSync(
    join(prefix, 'nginx.conf'),
    `daemon off;
master_process off;
worker_processes 1;
error_log stderr error;
pid ${join(prefix, 'nginx.pid')};
events { worker_connections 4096; }
http {
  access_log off;
${temp}
  upstream bench_upstream {
    server 127.0.0.1:${upstreamPort};
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:${port};
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`,
  );
  return { prefix, command: [binary, '-p', prefix, '-c', join(prefix, 'nginx.conf')] };
}

module.exports = { nginxBinary, freePort, nginxCommand };
