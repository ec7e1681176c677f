import t from 'tap';
import { writeFileSync } from 'node:fs';
import { Gateway } from '../../src/gateway';
import { setLogLevel } from '../../src/log';
import { request } from '../helpers/http';
import { tempFile } from '../helpers/cli';
import { yaml } from '../helpers/config';

setLogLevel('error');

const config = (a: string, b: string) =>
  yaml(
    '_format_version: "3.0"',
    'routes:',
    '  - {name: ra, paths: [/a]}',
    '  - {name: rb, paths: [/b]}',
    'plugins:',
    `  - {id: plugin-a, name: request-termination, route: ra, config: {status_code: 200, body: ${a}}}`,
    `  - {id: plugin-b, name: request-termination, route: rb, config: {status_code: 200, body: ${b}}}`,
  );

t.test('a reload keeps the compiled state of unchanged plugins and recompiles changed ones', async (t) => {
  const file = tempFile('kong.yml', config('one', 'two'));
  const gateway = await Gateway.start({ configFile: file, proxyListen: { host: '127.0.0.1', port: 0 }, adminListen: null });
  t.teardown(() => gateway.stop());
  const compiled = (id: string) => gateway.proxy.current.compiledPlugins.get(id)!.conf;
  const before = { a: compiled('plugin-a'), b: compiled('plugin-b') };

  writeFileSync(file, config('one', 'three'));
  t.match(await gateway.reload(), { accepted: true, source: 'signal' });
  t.equal(compiled('plugin-a'), before.a, 'unchanged plugin: the same compiled object');
  t.not(compiled('plugin-b'), before.b, 'changed plugin: compiled anew');
  const port = gateway.proxyAddress.port;
  t.equal((await request(port, '/a')).body, 'one');
  t.equal((await request(port, '/b')).body, 'three');

  const live = gateway.proxy.current;
  writeFileSync(file, config('one', '[unclosed'));
  t.match(await gateway.reload(), { accepted: false, errors: [/^.*kong\.yml:\d+:\d+: /] });
  t.equal(gateway.proxy.current, live, 'a rejected reload leaves the live snapshot in place');
  t.equal((await request(port, '/b')).body, 'three');
});

t.test('one reload at a time: those asked for while one runs make one more run after it', async (t) => {
  const file = tempFile('kong.yml', config('one', 'two'));
  const gateway = await Gateway.start({ configFile: file, proxyListen: { host: '127.0.0.1', port: 0 }, adminListen: null });
  t.teardown(() => gateway.stop());
  const first = gateway.reloadFile('signal', true);
  const second = gateway.reloadFile('file', false);
  const third = gateway.reloadFile('signal', true);
  t.equal(second, third, 'the two later requests share one run');
  const [a, b] = await Promise.all([first, second]);
  t.match(a, { accepted: true, source: 'signal' });
  t.match(b, { accepted: true, source: 'signal' }, 'forced, as one of the requests it stands for was');
  t.not(a, b, 'it ran after the first, not instead of it');
  t.equal(await gateway.reloadFile('file', false), undefined, 'nothing runs again for an unchanged file');
});

t.test('a reload still loading when the gateway stops is never served', async (t) => {
  // Large enough to load in a worker thread, so the reload is still running when stop() is called.
  const consumers = Array.from({ length: 4000 }, (_, i) => `  - {username: user-${i}, keyauth_credentials: [{key: key-${i}}]}`);
  const file = tempFile('kong.yml', `${config('one', 'two')}consumers:\n${consumers.join('\n')}\n`);
  const gateway = await Gateway.start({ configFile: file, proxyListen: { host: '127.0.0.1', port: 0 }, adminListen: null });
  const live = gateway.proxy.current;
  const reloading = gateway.reloadFile('signal', true);
  await gateway.stop();
  t.match(await reloading, { accepted: false, errors: ['the gateway stopped while this config was loading'] });
  t.equal(gateway.proxy.current, live, 'the stopped gateway kept the snapshot it had');
});
