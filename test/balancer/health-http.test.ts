// The health, retry and spread tests again with the gateway forwarding through node:http (GATEWAY_FORWARDER=http,
// read by each gateway these tests start); the other files run on undici, the default.
import './health.test';

process.env.GATEWAY_FORWARDER = 'http';
