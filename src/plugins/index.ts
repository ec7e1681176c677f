import type { PluginDefinition } from './types';
import { requestTermination } from './request-termination';
import { keyAuth } from './key-auth';
import { basicAuth } from './basic-auth';
import { ldapAuth } from './ldap-auth';
import { acl } from './acl';
import { rateLimiting } from './rate-limiting';
import { requestTransformer } from './request-transformer';
import { responseTransformer } from './response-transformer';
import { correlationId } from './correlation-id';
import { redirect } from './redirect';
import { proxyCache } from './proxy-cache';
import { cors } from './cors';
import { ipRestriction } from './ip-restriction';
import { requestSizeLimiting } from './request-size-limiting';
import { botDetection } from './bot-detection';
import { jwt } from './jwt';
import { hmacAuth } from './hmac-auth';
import { prometheus } from './prometheus';
import { zipkin } from './zipkin';
import { opentelemetry } from './opentelemetry';
import { httpLog } from './http-log';
import { fileLog } from './file-log';
import { tcpLog } from './tcp-log';
import { udpLog } from './udp-log';

/** Every plugin this gateway implements, by name. */
export const PLUGINS: ReadonlyMap<string, PluginDefinition> = new Map(
  [
    requestTermination,
    keyAuth,
    basicAuth,
    ldapAuth,
    acl,
    rateLimiting,
    requestTransformer,
    responseTransformer,
    correlationId,
    redirect,
    proxyCache,
    cors,
    ipRestriction,
    requestSizeLimiting,
    botDetection,
    jwt,
    hmacAuth,
    prometheus,
    zipkin,
    opentelemetry,
    httpLog,
    fileLog,
    tcpLog,
    udpLog,
  ].map((p) => [p.name, p as PluginDefinition]),
);

/** Schemas the plugins' config schemas refer to (`$ref`), such as the log plugins' queue. */
export { default as QUEUE_SCHEMA } from '../observe/queue.schema.json';

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
