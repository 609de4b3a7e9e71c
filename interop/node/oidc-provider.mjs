// A real OpenID Provider, panva's oidc-provider, for jwt-guard's OIDC tests
// (tests/it/oidc): it listens on 127.0.0.1 and gives client-credentials
// grants with a resource indicator JWT access tokens (`typ: at+jwt`) for one
// audience. One JSON line of configuration on stdin first, then one JSON
// command per line; one JSON object per line on stdout (and nothing else
// there: diagnostics, and oidc-provider's own warnings, go to stderr).
//
//   configuration:
//   {"port":0 | N (0: any free port),
//    "issuer_path":"" | "/tenant-a" (optional, default ""),
//    "issuer":"http://…" (optional: claim this issuer instead of
//      http://127.0.0.1:<port><issuer_path>, while served at this process's
//      own address, under the issuer's path),
//    "audience":"https://api.test" (the resource indicator, and the `aud`),
//    "scopes":["docs:read","docs:write"] (the audience's scopes),
//    "clients":[{"client_id":"svc","client_secret":"…",
//      …any other client metadata (optional: e.g. "scope",
//      "token_endpoint_auth_method":"client_secret_post")}],
//    "alg":"ES256"|"RS256"|"PS256"|"EdDSA" (optional, default "ES256"),
//    "jwk_alg":true|false (optional, default true: whether the published
//      JWKS carries `alg`),
//    "ttl":300 (optional: the access tokens' lifetime in seconds)}
//     -> {"ready":true,"issuer":"http://127.0.0.1:N…","port":N,
//         "token_endpoint":"…","jwks_uri":"…","kid":"<the signing key's kid>"}
//        | {"ready":false,"error":"…"} and exit 1
//   {"op":"rotate","req":"r1"}
//     -> {"req":"r1","kid":"<new kid>"}: tokens from now on are signed with a
//        new key of the same alg; the JWKS publishes it first, then the old
//        ones
//   {"op":"token","req":"r2","client_id":"svc","client_secret":"…",
//    "scope":"docs:read" (optional),
//    "resource":"…" | null (optional: default the audience, null sends none,
//      which gives an opaque token),
//    "auth":"basic"|"post" (optional: default the client's
//      token_endpoint_auth_method, client_secret_basic unless configured)}
//     -> {"req":"r2","status":200,"body":{"access_token":…,"expires_in":…,
//         "token_type":"Bearer","scope":…}}: the client-credentials grant over
//        HTTP at the token endpoint, the answer exactly as a client sees it
//        (body: the parsed JSON, or the text when it is not JSON)
//     With "dpop":n (a key made by dpop_key), the request carries a DPoP
//     proof of that key (RFC 9449 §5): the token is DPoP-bound (`cnf.jkt`)
//     and token_type "DPoP".
//   {"op":"dpop_key","req":"r5","alg":"ES256"|"Ed25519"|…}
//     -> {"req":"r5","id":n,"jkt":"…"}: a key pair made by panva's dpop
//   {"op":"dpop_proof","req":"r6","id":n,"htm":…,"htu":…,"access_token":…
//    (optional),"age":seconds (optional: made that long ago)}
//     -> {"req":"r6","proof":"…"}: a proof of that key
//   {"op":"jwks","req":"r3"} -> {"req":"r3","jwks":{"keys":[…]}} (public keys)
//   {"op":"stop","req":"r4"} -> {"req":"r4","stopped":true}, then exit
//   anything malformed -> {"req":… (if it had one),"error":"…"}
//
// Exits when stdin closes. The access tokens carry jti, sub (= client_id),
// iat, exp, scope (the requested scopes the audience has, space-separated;
// absent when none), client_id, iss and aud (the audience as a string); the
// header alg, typ "at+jwt" and kid. Keys are generated at start; everything
// is in memory (no database, no interactions).

import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { dpopKey, dpopProof } from './dpop-keys.mjs';

// oidc-provider prints its notices with console.info: keep stdout for the
// protocol.
for (const method of ['log', 'info', 'debug']) console[method] = console.error;
const { default: Provider, errors } = await import('oidc-provider');

function out(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

const GENERATE = {
  ES256: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }),
  RS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  PS256: () => generateKeyPairSync('rsa', { modulusLength: 2048 }),
  EdDSA: () => generateKeyPairSync('ed25519'),
};

let generation = 0;
function newKey(alg) {
  generation += 1;
  const { privateKey } = GENERATE[alg]();
  const kid = `${alg.toLowerCase()}-${generation}-${randomBytes(4).toString('hex')}`;
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}

function publicJwk({ d, p, q, dp, dq, qi, ...rest }, withAlg) {
  if (!withAlg) delete rest.alg;
  return rest;
}

// The first line: the configuration.
const lines = createInterface({ input: process.stdin });
const iterator = lines[Symbol.asyncIterator]();
let config;
try {
  const first = await iterator.next();
  if (first.done) process.exit(0);
  config = JSON.parse(first.value);
  config.alg ??= 'ES256';
  config.jwk_alg ??= true;
  config.ttl ??= 300;
  config.issuer_path ??= '';
  if (!GENERATE[config.alg]) throw new Error(`unsupported alg ${config.alg}`);
  if (typeof config.audience !== 'string') throw new Error('audience must be a string');
  if (!Array.isArray(config.scopes)) throw new Error('scopes must be an array');
  if (!Array.isArray(config.clients)) throw new Error('clients must be an array');
  if (config.issuer_path && !/^\/[^?#]*[^/?#]$/.test(config.issuer_path)) {
    throw new Error('issuer_path must start with / and not end with /');
  }
} catch (error) {
  out({ ready: false, error: `${error.name}: ${error.message}` });
  process.exit(1);
}

// Newest first: the key that signs, then the ones still published.
let keys = [newKey(config.alg)];
let current; // { provider, callback, prefix }

function resourceServer() {
  return {
    audience: config.audience,
    scope: config.scopes.join(' '),
    accessTokenTTL: config.ttl,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: config.alg, kid: keys[0].kid } },
  };
}

function buildProvider(issuer) {
  const provider = new Provider(issuer, {
    clients: config.clients.map((client) => ({
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      ...client,
    })),
    // The default, RS256, would make the clients invalid without an RSA key.
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      id_token_signed_response_alg: config.alg,
    },
    jwks: { keys: keys.map((key) => ({ ...key })) },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => false,
        getResourceServerInfo: async (_ctx, resourceIndicator) => {
          if (resourceIndicator === config.audience) return resourceServer();
          throw new errors.InvalidTarget();
        },
      },
    },
    ttl: {
      AccessToken: () => config.ttl,
      ClientCredentials: () => config.ttl,
    },
  });
  provider.on('server_error', (_ctx, error) => console.error('oidc-provider server_error:', error));
  provider.on('grant.error', (_ctx, error) => console.error('oidc-provider grant.error:', error.message, error.error_description ?? ''));
  return provider;
}

// The provider under its issuer's path: the path is taken off req.url (and
// left in req.originalUrl, from which oidc-provider builds its URLs).
function install(issuer) {
  const provider = buildProvider(issuer);
  const prefix = new URL(issuer).pathname.replace(/\/$/, '');
  current = { provider, callback: provider.callback(), prefix };
}

function handle(req, res) {
  const { callback, prefix } = current;
  const url = req.url ?? '/';
  if (prefix) {
    if (url !== prefix && !url.startsWith(`${prefix}/`) && !url.startsWith(`${prefix}?`)) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'not_found', error_description: 'unrecognized route or not allowed method' }));
      return;
    }
    req.originalUrl = url;
    req.url = url.slice(prefix.length) || '/';
  }
  // Without `alg` in the JWKS: served here, as oidc-provider adds `alg` to
  // any key that fits a single one (EC).
  const path = (req.url ?? '/').split('?')[0];
  if (!config.jwk_alg && path === '/jwks' && (req.method === 'GET' || req.method === 'HEAD')) {
    res.writeHead(200, { 'content-type': 'application/jwk-set+json; charset=utf-8' });
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(publishedJwks()));
    return;
  }
  callback(req, res);
}

function publishedJwks() {
  return { keys: keys.map((key) => publicJwk(key, config.jwk_alg)) };
}

const server = createServer(handle);
try {
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port ?? 0, '127.0.0.1', resolve);
  });
} catch (error) {
  out({ ready: false, error: `${error.name}: ${error.message}` });
  process.exit(1);
}
const { port } = server.address();
const origin = `http://127.0.0.1:${port}`;
const issuer = config.issuer ?? `${origin}${config.issuer_path}`;
try {
  install(issuer);
} catch (error) {
  out({ ready: false, error: `${error.name}: ${error.message}` });
  process.exit(1);
}
const served = `${origin}${current.prefix}`;
const tokenEndpoint = `${served}${current.provider.pathFor('token', { mountPath: '' })}`;
const jwksUri = `${served}${current.provider.pathFor('jwks', { mountPath: '' })}`;
out({ ready: true, issuer, port, token_endpoint: tokenEndpoint, jwks_uri: jwksUri, kid: keys[0].kid });

async function token(req) {
  const client = config.clients.find((c) => c.client_id === req.client_id);
  const auth = req.auth
    ?? (client?.token_endpoint_auth_method === 'client_secret_post' ? 'post' : 'basic');
  const form = new URLSearchParams({ grant_type: 'client_credentials' });
  if (req.scope !== undefined && req.scope !== null) form.set('scope', req.scope);
  const resource = req.resource === undefined ? config.audience : req.resource;
  if (resource !== null) form.set('resource', resource);
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (req.dpop !== undefined && req.dpop !== null) {
    headers.dpop = await dpopProof(req.dpop, tokenEndpoint, 'POST');
  }
  if (auth === 'basic') {
    // RFC 6749 2.3.1: each form-urlencoded, then Basic.
    const pair = `${encodeURIComponent(req.client_id)}:${encodeURIComponent(req.client_secret)}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  } else if (auth === 'post') {
    form.set('client_id', req.client_id);
    form.set('client_secret', req.client_secret);
  } else {
    throw new Error(`unknown auth ${auth}`);
  }
  const response = await fetch(tokenEndpoint, { method: 'POST', headers, body: form });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.status, body };
}

async function stop(req) {
  await new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
  process.stdout.write(JSON.stringify({ req: req.req, stopped: true }) + '\n', () => process.exit(0));
}

// One command at a time, in order.
for (;;) {
  const next = await iterator.next();
  if (next.done) break;
  if (!next.value.trim()) continue;
  let req;
  try {
    req = JSON.parse(next.value);
    if (req === null || typeof req !== 'object') throw new Error('a command is a JSON object');
    switch (req.op) {
      case 'rotate':
        keys = [newKey(config.alg), ...keys];
        install(issuer);
        out({ req: req.req, kid: keys[0].kid });
        break;
      case 'token':
        out({ req: req.req, ...(await token(req)) });
        break;
      case 'jwks':
        out({ req: req.req, jwks: publishedJwks() });
        break;
      case 'dpop_key':
        out({ req: req.req, ...(await dpopKey(req.alg)) });
        break;
      case 'dpop_proof':
        out({
          req: req.req,
          proof: await dpopProof(req.id, req.htu, req.htm, req.access_token, null, req.age),
        });
        break;
      case 'stop':
        await stop(req);
        await new Promise(() => {});
        break;
      default:
        throw new Error(`unknown op ${req.op}`);
    }
  } catch (error) {
    out({ ...(req?.req !== undefined ? { req: req.req } : {}), error: `${error.name}: ${error.message}` });
  }
}
server.closeAllConnections();
server.close();
process.exit(0);
