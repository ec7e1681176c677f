// Which requests are WebSocket handshakes: Kong's runloop (kong/runloop/handler.lua) makes an upgrade only of
// `Upgrade: websocket`, compared without case; a body makes it plain HTTP here.
import t from 'tap';
import { isWebSocketHandshake } from '../../src/proxy/upgrade';

t.test('Upgrade: websocket in any case, without a body, is a handshake', async (t) => {
  t.ok(isWebSocketHandshake({ upgrade: 'websocket' }));
  t.ok(isWebSocketHandshake({ upgrade: 'WebSocket' }));
  t.ok(isWebSocketHandshake({ upgrade: 'websocket', 'content-length': '0' }));
});

t.test('any other Upgrade, or a body, is not', async (t) => {
  t.notOk(isWebSocketHandshake({}));
  t.notOk(isWebSocketHandshake({ upgrade: 'h2c' }));
  t.notOk(isWebSocketHandshake({ upgrade: 'websocket, h2c' }), 'Kong compares the whole value');
  t.notOk(isWebSocketHandshake({ upgrade: 'websockets' }));
  t.notOk(isWebSocketHandshake({ upgrade: 'websocket', 'content-length': '5' }));
  t.notOk(isWebSocketHandshake({ upgrade: 'websocket', 'transfer-encoding': 'chunked' }));
});
