// DPoP key pairs and proofs made by panva's `dpop` package, shared by the
// scripts that drive jwt-guard's DPoP tests (driver.mjs, oidc-provider.mjs):
// a key pair is kept here, in this process, and named by its index.

import * as dpop from 'dpop';

const keys = [];

// A new key pair for `alg` ("ES256", "Ed25519", "PS256", "RS256"):
// {id, jkt} (jkt: its RFC 7638 thumbprint).
export async function dpopKey(alg) {
  const keypair = await dpop.generateKeyPair(alg);
  keys.push(keypair);
  return { id: keys.length - 1, jkt: await dpop.calculateThumbprint(keypair.publicKey) };
}

// A proof by key `id` for `htm htu`, with the `ath` of `accessToken` and
// the server's `nonce` when given; made `age` seconds ago when given (a
// stale proof: `dpop` reads the clock from Date.now, set back for the call).
export async function dpopProof(id, htu, htm, accessToken, nonce, age) {
  const keypair = keys[id];
  if (!keypair) throw new Error(`no DPoP key ${id}`);
  const proof = () =>
    dpop.generateProof(keypair, htu, htm, nonce ?? undefined, accessToken ?? undefined);
  if (!age) return proof();
  const now = Date.now;
  Date.now = () => now() - age * 1000;
  try {
    return await proof();
  } finally {
    Date.now = now;
  }
}
