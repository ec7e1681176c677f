// The forwarding, hardening and linger tests again, with the gateway forwarding through node:http
// (GATEWAY_FORWARDER=http, read by each gateway these tests start); the other files run on undici, the default.
import './forward.test';
import './linger.test';
import '../security/upstream-failures.test';

process.env.GATEWAY_FORWARDER = 'http';
