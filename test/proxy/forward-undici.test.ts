// The forwarding, hardening and linger tests again, with the gateway forwarding through undici
// (GATEWAY_FORWARDER=undici, read by each gateway these tests start).
import './forward.test';
import './linger.test';
import '../security/upstream-failures.test';

process.env.GATEWAY_FORWARDER = 'undici';
