// The upstream TLS tests again, with the gateway forwarding through node:http (GATEWAY_FORWARDER=http, read by
// each gateway these tests start).
import './upstream-tls.test';

process.env.GATEWAY_FORWARDER = 'http';
