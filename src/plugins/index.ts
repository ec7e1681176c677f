import type { PluginDefinition } from './types';
import { requestTermination } from './request-termination';
import { keyAuth } from './key-auth';
import { basicAuth } from './basic-auth';
import { acl } from './acl';
import { rateLimiting } from './rate-limiting';

/** Every plugin this gateway implements, by name. */
export const PLUGINS: ReadonlyMap<string, PluginDefinition> = new Map(
  [requestTermination, keyAuth, basicAuth, acl, rateLimiting].map((p) => [p.name, p as PluginDefinition]),
);

/** Kong's bundled plugins (kong/constants.lua): named in a clear "not supported yet" error rather than "unknown". */
export const KONG_PLUGINS: ReadonlySet<string> = new Set([
  'acl', 'acme', 'ai-prompt-decorator', 'ai-prompt-guard', 'ai-prompt-template', 'ai-proxy', 'ai-request-transformer',
  'ai-response-transformer', 'aws-lambda', 'azure-functions', 'basic-auth', 'bot-detection', 'correlation-id', 'cors',
  'datadog', 'file-log', 'grpc-gateway', 'grpc-web', 'hmac-auth', 'http-log', 'ip-restriction', 'jwt', 'key-auth',
  'ldap-auth', 'loggly', 'oauth2', 'opentelemetry', 'post-function', 'pre-function', 'prometheus', 'proxy-cache',
  'rate-limiting', 'redirect', 'request-size-limiting', 'request-termination', 'request-transformer',
  'response-ratelimiting', 'response-transformer', 'session', 'standard-webhooks', 'statsd', 'syslog', 'tcp-log',
  'udp-log', 'zipkin',
]);
