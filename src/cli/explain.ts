import { Command, Option } from 'commander';
import { buildSnapshot, retireSnapshot } from '../config/snapshot';
import { explainRequest } from '../explain/explain';
import { renderExplanation } from '../explain/render';
import { checkedConfigOrExit } from './checked-config';

function headerLine(line: string, previous: Array<[string, string]>): Array<[string, string]> {
  const colon = line.indexOf(':');
  if (colon <= 0) throw new Error(`-H '${line}': expected 'Name: value'`);
  return [...previous, [line.slice(0, colon).trim(), line.slice(colon + 1).trim()]];
}

export function explainCommand(): Command {
  return new Command('explain')
    .description('show what the gateway would do with one request, without sending it: route, plugins, consumer, outcome')
    .argument('<url>', 'absolute URL (http://host/path?query) or a path (/path?query)')
    .requiredOption('-c, --conf <file>', 'declarative config file (kong.yml)')
    .option('-X, --request <method>', 'request method', 'GET')
    .option('-H, --header <line>', "request header 'Name: value' (repeatable)", headerLine, [])
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json']).default('text'))
    .action(async (url: string, opts: { conf: string; request: string; header: Array<[string, string]>; format: 'text' | 'json' }) => {
      const checked = checkedConfigOrExit(opts.conf);
      const snapshot = buildSnapshot(checked.entities, checked.hash, undefined, { offline: true, router: checked.router });
      try {
        const x = await explainRequest(snapshot, { method: opts.request, url, headers: opts.header });
        process.stdout.write(opts.format === 'json' ? `${JSON.stringify(x, null, 2)}\n` : renderExplanation(x));
      } finally {
        retireSnapshot(snapshot, undefined);
      }
    });
}
