import type { PluginCheck, PluginDefinition } from '../types';
import type { SeriesSelection } from '../../observe/metrics';
import configSchema from './schema.json';

export interface PrometheusConfig {
  per_consumer: boolean;
  status_code_metrics: boolean;
  ai_metrics: boolean;
  latency_metrics: boolean;
  bandwidth_metrics: boolean;
  upstream_health_metrics: boolean;
  wasm_metrics: boolean;
}

// Flags Kong accepts for parts this gateway does not have: kept valid so a Kong file loads, named in a warning.
const IGNORED: ReadonlyArray<[keyof PrometheusConfig, string]> = [
  ['ai_metrics', 'there is no AI proxy here: the ai_llm_* series are not exported'],
  ['wasm_metrics', 'there are no Wasm filters here: no Wasm series are exported'],
];

/**
 * Kong's prometheus plugin (priority 13). It has no phase of its own: the observer records a finished request's Kong
 * series when its final chain holds this plugin, the series this instance's flags select (src/observe/observer.ts).
 */
export const prometheus: PluginDefinition<PrometheusConfig, SeriesSelection> = {
  name: 'prometheus',
  priority: 13,
  version: '1.0.0',
  configSchema,
  check(plugin) {
    const out: PluginCheck[] = [];
    for (const [field, why] of IGNORED) {
      if (plugin.config[field]) out.push({ path: ['config', field], message: `ignored: ${why}`, severity: 'warning' });
    }
    return out;
  },
  compile: (c) =>
    Object.freeze({ perConsumer: c.per_consumer, status: c.status_code_metrics, latency: c.latency_metrics, bandwidth: c.bandwidth_metrics, usernameOnly: true }),
};
