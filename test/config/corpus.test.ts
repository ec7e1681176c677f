// `gateway validate` on the real kong.yml files of ../shared/corpus/kong/ (read in place): each gets the outcome
// Kong 3.x would give it, given what this gateway implements. A file Kong accepts is valid here, or is refused
// only for something this gateway does not implement, named as such. Rows refused only for a Kong plugin not
// implemented yet ("is not supported by this gateway yet") turn valid when that plugin is added to PLUGINS.
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { validateFile } from '../../src/cli/validate';

// From the main checkout the corpus is ../shared; from a worktree under wt/, ../../shared.
const CORPUS = ['..', join('..', '..')].map((up) => join(__dirname, '..', '..', up, 'shared', 'corpus', 'kong')).find((d) => existsSync(d));

/** [field path, with * for any index; words the message must hold]. */
type Expected = [path: string, words: string];

interface Outcome {
  /** Every error the file gets, each matching one of these (and each of these matching one); none when valid. */
  errors?: Expected[];
  /** Warnings the file must get (others may come too). */
  warnings?: Expected[];
}

const notYet = (plugin: string) => `plugin '${plugin}' is not supported by this gateway yet`;
const VALID: Outcome = {};

const OUTCOMES: Record<string, Outcome> = {
  // Kong's vault references: the secret must be in the file
  '0debt__api-gateway__kong.yaml': {
    errors: [['jwt_secrets[*].secret', 'vault references are not supported: give the secret itself']],
  },
  // a decK dump: `exposed_headers: null`, `max_age: null` mean "not set"
  '2023-SENIOR-PROJECT__rentless-services__kong.yaml': VALID,
  // upstreams with targets, balanced (kong/db/schema/entities/upstreams.lua)
  '4klabs__kong-blue-green-deployment__kong_kong.yml': VALID,
  'AliAkbar29__api-perfomance-gateway-testt__kong_kong.yml': VALID,
  'AnSpire__kong-keycloak-test__kong.yml': VALID,
  // Kong Enterprise's dump: `anonymous: null`, and ws/wss in the plugin's protocols, which change nothing here
  'Ani-maurya__integration-global-kong-configuration__kong-global-config_key-auth.yaml': {
    warnings: [['plugins[0].protocols', "'ws', 'wss' ignored"]],
  },
  // `plugins: []` and `upstreams: []` declare nothing
  'Ani-maurya__integration-global-kong-configuration__kong.yaml': VALID,
  // Kong refuses these too: key-auth cannot be scoped to a consumer, and a plugin once per scope
  'Anylee2142__KongAPIGateway__kong.yml': {
    errors: [
      ['consumers[0].plugins[0].name', "value must be null ('key-auth' identifies consumers"],
      ['plugins[0]', "uniqueness violation: plugin 'key-auth' is already configured on the same scope at services[0].plugins[0]"],
      ['plugins[1]', "uniqueness violation: plugin 'key-auth' is already configured on the same scope at services[1].plugins[0]"],
    ],
  },
  'Arun4D__api-migration__kong.yaml': {
    warnings: [['services[0].url', "host 'Weather-API_upstream' beside it is ignored (as in Kong)"]],
  },
  'BadSayHalo__Cloud-API-Based-Network-Application-Security-for-Small-Company-Services__Gateway_kong.yml': VALID,
  'BeoKool__Kong_api-Trungdam__kong.yaml': VALID,
  'Boborealmoon__Healthcare_ESD__kong.yaml': VALID,
  // `_format_version` and `_transform` written twice with the same values: Kong's YAML reading keeps them
  'Caertos__Parcial1-FHIR-LAB-API-GATEWAY__kong.yml': {
    warnings: [
      ['', "'_format_version' is written twice with the same value"],
      ['', "'_transform' is written twice with the same value"],
    ],
  },
  'DaniloMarques1__kong_learning__kong_kong.yaml': VALID,
  'Dioneprey__kong-api-gateway__kong.yaml': VALID,
  'EnMonCo__emc-api-gateway__kong.yaml': VALID,
  'FaceGate__api-gateway__kong.yml': VALID,
  // custom Lua plugins: Kong needs them installed, this gateway cannot have them
  'Fit-Rang__kong__kong.yml': {
    errors: [
      ['services[*].routes[0].plugins[0].name', "plugin 'token-introspect-plugin' is not one of Kong's bundled plugins (a custom plugin?)"],
      ['services[7].routes[0].plugins[1].name', "plugin 'kong-plugin-keycloak-login' is not one of Kong's bundled plugins"],
      ['services[8].routes[0].plugins[1].name', "plugin 'token-refresh-plugin' is not one of Kong's bundled plugins"],
    ],
  },
  // a template for envsubst: Kong refuses the `${ENVIRONMENT_NAME}` hosts as well
  'GSA-TTS__identity-idva-api-gateway__ingress_kong-config.yaml': {
    errors: [
      ['services[0].url', "invalid hostname in url 'https://identity-idva-sk-api-${ENVIRONMENT_NAME}"],
      ['services[*].url', "'${ENVIRONMENT_NAME}' looks like an environment variable"],
      ['services[0].routes[0].hosts[0]', "invalid hostname: idva-api-${ENVIRONMENT_NAME}.app.cloud.gov ('${ENVIRONMENT_NAME}' looks like an environment variable"],
      ['services[*].routes[0].hosts[0]', "'${ENVIRONMENT_NAME}' looks like an environment variable"],
    ],
  },
  'GabrielMoody__MikroNet__config_kong.yml': {
    errors: [
      ['services[0].protocol', "'tcp' makes this a stream service"],
      ['routes[4].protocols[0]', "'tcp' makes this a stream route"],
      ['routes[4].destinations', "'destinations' is not supported by this gateway yet"],
    ],
  },
  'IDP-One-calendar-2026__infra-config__kong_kong.yaml': VALID,
  'IcaroRobertos__kong-declarative-mode__kong.yaml': {
    errors: [['services[*].host', "invalid value '$IP': must be a hostname or an IP address ('$IP' looks like an environment variable"]],
  },
  'Jose-cyber__kong-tracing-grafana-tempo__kong_kong.yaml': VALID,
  'Kibria7533__kong-http-kong-yaml__kong.yaml': VALID,
  // a 1.1 file whose regex paths get their `~` from Kong's migration
  'Kong__deck__convert_testdata_4_input.yaml': VALID,
  // Kong accepts it and answers every unauthenticated request with a 500; here the missing consumer is an error
  'Kong__deck__tests_integration_testdata_sync_003-create-a-plugin_kong3x.yaml': {
    errors: [['plugins[0].config.anonymous', "anonymous consumer '58076db2-28b6-423b-ba39-a797193017f7' does not exist"]],
  },
  'Kong__deck__tests_integration_testdata_sync_011-plugin-ordering_kong.yaml': {
    errors: [['plugins[0].ordering', "'ordering' (dynamic plugin ordering) is a Kong Enterprise feature"]],
  },
  'Kong__docker-kong__compose_config_kong.yaml': VALID,
  'Kong__kong-graphql-opa-authorization__kong.yaml': {
    errors: [
      ['services[0].routes[0].plugins[0].name', "plugin 'opa' is a Kong Enterprise plugin"],
      ['services[0].routes[0].plugins[1].name', "plugin 'openid-connect' is a Kong Enterprise plugin"],
    ],
    warnings: [['_konnect', "'_konnect' is decK's Konnect metadata"]],
  },
  'Kong__kong__spec_fixtures_burst.yml': VALID,
  'Kong__kubernetes-ingress-controller__internal_dataplane_testdata_golden_ingress-v1-regex-prefix-exact-rule_default_golden.yaml': VALID,
  'Maxi-Teme__kong-plugin-jwt-jwk__kong.yaml': {
    errors: [['services[0].plugins[0].name', "plugin 'jwt-jwk' is not one of Kong's bundled plugins (a custom plugin?)"]],
  },
  'MhmdRyhn__kong-kong__kong.yaml': VALID,
  // a decK dump: `minute: null`, `redis_host: null` … in rate-limiting's config
  'MohamedRagabAnas__deck-ci-cd__kong.yaml': VALID,
  'QwerTech__kong-play__kong_config_kong.yaml': VALID,
  'Tech-Multiverse__crapi-llm-security-lab__gateway_kong.yml': VALID,
  // a 1.1 file with `~` paths: Kong's migration makes them `~~…`, which never match
  'amey-admane__kong-deck-configuration__kong_kong.yaml': {
    warnings: [
      ['routes[1].paths[0]', "Kong 3.x reads this one as '~~/api/v1/fleet/assets/[^/]+', a regex that starts with '~' and never matches"],
      ['routes[16].paths[0]', "Kong 3.x reads this one as '~~/api/v1/reports/[^/]+/status'"],
    ],
  },
  // Supabase's gateway: `_comment` on services, `protocol: ws` beside an http url (the url wins, as in Kong)
  'elestio-examples__supabase__volumes_api_kong.yml': {
    warnings: [['services[6].url', "protocol 'ws' beside it is ignored (as in Kong)"]],
  },
  'goober__kong-websocket-bug__kong_kong.yaml': VALID,
  'isirajieinnocent__kong-api-gateway__kong_kong.yaml': VALID,
};

const pathPattern = (path: string) => new RegExp(`^${path.replace(/[.[\]]/g, '\\$&').replace(/\\\[\*\\\]/g, '\\[\\d+\\]')}$`);
const matches = ([path, words]: Expected, issue: { path: string; message: string }) => pathPattern(path).test(issue.path) && issue.message.includes(words);

t.test('every real kong.yml gets the outcome Kong 3.x would give it, its refusals naming their cause', { skip: CORPUS === undefined && 'no corpus beside the checkout' }, async (t) => {
  const files = readdirSync(CORPUS!).filter((f) => /\.ya?ml$/.test(f)).sort();
  t.same(files, Object.keys(OUTCOMES).sort(), 'one row per corpus file');
  for (const name of files) {
    const expected = OUTCOMES[name] ?? VALID;
    const result = validateFile(join(CORPUS!, name), false);
    const errors = result.issues.filter((i) => i.severity !== 'warning');
    const warnings = result.issues.filter((i) => i.severity === 'warning');
    t.test(name, async (t) => {
      t.equal(result.valid, expected.errors === undefined, expected.errors === undefined ? 'valid' : 'refused');
      for (const e of expected.errors ?? []) t.ok(errors.some((i) => matches(e, i)), `error at ${e[0]}: ${e[1]}`);
      const unexpected = errors.filter((i) => !(expected.errors ?? []).some((e) => matches(e, i)));
      t.same(unexpected.map((i) => `${i.path}: ${i.message}`), [], 'no other error');
      for (const w of expected.warnings ?? []) t.ok(warnings.some((i) => matches(w, i)), `warning at ${w[0]}: ${w[1]}`);
    });
  }
});
