// Drives the Node JWT libraries for jwt-guard's interoperability tests
// (tests/it/interop): one JSON request per line on stdin, one JSON answer
// per line on stdout, so that a token is verified the moment it is sent.
//
//   {"op":"verify","lib":"jsonwebtoken"|"jose","token":…,"alg":…,
//    "secret":… | "jwks":{…},"issuer":…,"audience":…}
//     -> {"ok":true,"payload":{…}} | {"ok":false,"error":"…"}
//   {"op":"mint","lib":…,"alg":"HS256","secret":…,"issuer":…,"audience":…,"sub":…,
//    "shape":"gyan-ghar"|"classmatefinder" (optional: another system's claims)}
//     -> {"ok":true,"token":"…"}
//   {"op":"dpop_key","alg":"ES256"|"Ed25519"|"PS256"|"RS256"}
//     -> {"ok":true,"id":n,"jkt":"…"}   (a key pair made by panva's dpop, kept here)
//   {"op":"dpop_proof","id":n,"htm":…,"htu":…,"access_token":… (optional),
//    "nonce":… (optional),"age":seconds (optional: made that long ago)}
//     -> {"ok":true,"proof":"…"}         (dpop's generateProof with that key)
//
// Every check the libraries offer is on: signature, algorithm, iss, aud,
// exp and nbf, with no clock tolerance.

import { createInterface } from 'node:readline';
import { createPublicKey } from 'node:crypto';
import { createRequire } from 'node:module';
import jsonwebtoken from 'jsonwebtoken';
import * as jose from 'jose';
import { dpopKey, dpopProof } from './dpop-keys.mjs';

const require = createRequire(import.meta.url);
const versions = {
  jsonwebtoken: require('jsonwebtoken/package.json').version,
  jose: require('jose/package.json').version,
  dpop: require('dpop/package.json').version,
};


function jwkFor(jwks, token) {
  const { kid } = JSON.parse(Buffer.from(token.split('.')[0], 'base64url'));
  const jwk = jwks.keys.find((k) => k.kid === kid);
  if (!jwk) throw new Error(`no key with kid ${kid}`);
  return jwk;
}

async function verify(req) {
  const options = { issuer: req.issuer, audience: req.audience, algorithms: [req.alg] };
  switch (req.lib) {
    case 'jsonwebtoken': {
      const key = req.jwks
        ? createPublicKey({ key: jwkFor(req.jwks, req.token), format: 'jwk' })
        : req.secret;
      const payload = jsonwebtoken.verify(req.token, key, options);
      // jsonwebtoken checks `exp` only when present; a fleet requires it.
      if (typeof payload.exp !== 'number') throw new Error('jwt has no exp');
      return payload;
    }
    case 'jose': {
      const key = req.jwks
        ? jose.createLocalJWKSet(req.jwks)
        : new TextEncoder().encode(req.secret);
      const { payload } = await jose.jwtVerify(req.token, key, {
        ...options,
        requiredClaims: ['exp', 'iss', 'aud'],
      });
      return payload;
    }
    default:
      throw new Error(`unknown library ${req.lib}`);
  }
}

// The claims of the systems the fleet holds, as they sign them (no `sub`).
const SHAPES = {
  // gyan-ghar: one role as a string.
  'gyan-ghar': (req) => ({ id: req.sub, email: 'asha@example.in', role: 'admin' }),
  // ClassmateFinder: a numeric user id only.
  classmatefinder: () => ({ userId: 42 }),
};

// Each library's own default shape for a token it signs.
async function mint(req) {
  if (req.shape) {
    return jsonwebtoken.sign(SHAPES[req.shape](req), req.secret, {
      algorithm: req.alg,
      expiresIn: '8h',
      issuer: req.issuer,
      audience: req.audience,
    });
  }
  switch (req.lib) {
    case 'jsonwebtoken':
      // {"alg":"HS256","typ":"JWT"}, integer iat and exp from `expiresIn`.
      return jsonwebtoken.sign({ sub: req.sub }, req.secret, {
        algorithm: req.alg,
        expiresIn: '8h',
        issuer: req.issuer,
        audience: req.audience,
      });
    case 'jose':
      // {"alg":"HS256"} only, `aud` as an array.
      return new jose.SignJWT({})
        .setProtectedHeader({ alg: req.alg })
        .setSubject(req.sub)
        .setIssuer(req.issuer)
        .setAudience([req.audience, 'another-api'])
        .setIssuedAt()
        .setExpirationTime('2h')
        .sign(new TextEncoder().encode(req.secret));
    default:
      throw new Error(`unknown library ${req.lib}`);
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  let answer;
  try {
    const req = JSON.parse(line);
    if (req.op === 'versions') answer = { ok: true, versions };
    else if (req.op === 'verify') answer = { ok: true, payload: await verify(req) };
    else if (req.op === 'mint') answer = { ok: true, token: await mint(req) };
    else if (req.op === 'dpop_key') answer = { ok: true, ...(await dpopKey(req.alg)) };
    else if (req.op === 'dpop_proof') answer = {
      ok: true,
      proof: await dpopProof(req.id, req.htu, req.htm, req.access_token, req.nonce, req.age),
    };
    else throw new Error(`unknown op ${req.op}`);
  } catch (error) {
    answer = { ok: false, error: `${error.name}: ${error.message}` };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
