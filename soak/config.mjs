// The soak's config file: every feature the soak drives, in two versions that differ only in what the
// request-termination route answers, so a reload changes something observable without changing the outcomes.
import bcrypt from 'bcryptjs';

export const KEYS = { user: 'soak-user-key', limited: 'soak-limited-key' };
export const BASIC = { username: 'soak-basic', password: 'soak-basic-password' };
/** Requests a second the rate-limited consumer may make; the soak sends more. */
export const LIMIT_PER_SECOND = 5;
export const TERMINATION_STATUS = 418;

// A low bcrypt cost: the soak measures the gateway, not bcrypt.
const BASIC_HASH = bcrypt.hashSync(BASIC.password, 4);

/** Kong 3.x declarative config for version `v` ('A' or 'B'), routing to the upstream on `upstreamPort`. */
export function soakConfig(v, upstreamPort) {
  return `_format_version: "3.0"
services:
  - name: api
    url: http://127.0.0.1:${upstreamPort}
    routes:
      - name: keyed
        paths: [/keyed]
        plugins:
          - {name: key-auth}
          - {name: acl, config: {allow: [users]}}
      - name: admins
        paths: [/admins]
        plugins:
          - {name: key-auth}
          - {name: acl, config: {allow: [admins]}}
      - name: basic
        paths: [/basic]
        plugins: [{name: basic-auth}]
      - name: open
        paths: [/open]
        plugins: [{name: key-auth, config: {anonymous: guest}}]
      - name: limited
        paths: [/limited]
        plugins:
          - {name: key-auth}
          - {name: rate-limiting, config: {second: ${LIMIT_PER_SECOND}, limit_by: consumer, policy: local}}
      - name: maintenance
        paths: [/maintenance]
        plugins: [{name: request-termination, config: {status_code: ${TERMINATION_STATUS}, message: config-${v}}}]
consumers:
  - username: user
    keyauth_credentials: [{key: ${KEYS.user}}]
    acls: [{group: users}]
  - username: limited
    keyauth_credentials: [{key: ${KEYS.limited}}]
  - username: basic
    basicauth_credentials: [{username: ${BASIC.username}, password: '${BASIC_HASH}'}]
  - username: guest
`;
}
