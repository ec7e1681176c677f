import t from 'tap';
import { parseListen, parseListeners } from '../../src/cli/listen';

t.test("kong/conf_loader/listeners.lua: several listeners, ssl and http2 flags, nginx's socket flags noted", async (t) => {
  const kong = parseListeners('0.0.0.0:8000 reuseport backlog=16384, 0.0.0.0:8443 http2 ssl reuseport backlog=16384', '--proxy-listen');
  t.same(kong.listeners, [
    { host: '0.0.0.0', port: 8000 },
    { host: '0.0.0.0', port: 8443, ssl: true, http2: true },
  ]);
  t.equal(kong.notes.length, 4);
  t.match(kong.notes[0], "'reuseport' on 0.0.0.0:8000 is an nginx socket setting: ignored");
  t.same(parseListeners('[::1]:8443 ssl, :8000', 'x').listeners, [{ host: '::1', port: 8443, ssl: true }, { host: '0.0.0.0', port: 8000 }]);
  t.same(parseListeners('off', 'x').listeners, []);
});

t.test('http2 needs ssl; unknown flags, proxy_protocol and a listener twice are refused', async (t) => {
  const plain = parseListeners('127.0.0.1:8000 http2', 'x');
  t.same(plain.listeners, [{ host: '127.0.0.1', port: 8000 }]);
  t.match(plain.notes, [/HTTP\/2 is offered on TLS listeners only/]);
  t.throws(() => parseListeners('127.0.0.1:8000 fast', 'x'), /unknown flag 'fast'/);
  t.throws(() => parseListeners('127.0.0.1:8000 proxy_protocol', 'x'), /PROXY protocol/);
  t.throws(() => parseListeners('127.0.0.1:8000, 127.0.0.1:8000 ssl', 'x'), /listed twice/);
  t.throws(() => parseListeners('localhost', 'x'), /expected HOST:PORT/);
});

t.test('parseListen keeps its old meaning: the first plain listener', async (t) => {
  t.same(parseListen('0.0.0.0:8443 ssl, 0.0.0.0:8000', 'x'), { host: '0.0.0.0', port: 8000 });
  t.equal(parseListen('off', 'x'), null);
});
