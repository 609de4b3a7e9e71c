#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into a directory (one folder per
target), from the Wycheproof vectors (read from $WYCHEPROOF_DIR, never
copied into the repository) and from tokens, keys and headers minted here,
now, in the shapes the crate's tests use.

    python3 fuzz/seed.py OUT_DIR

Keys are made by `openssl` at each run; the HS256 tokens are signed with the
harness's fixed secret (fuzz/src/lib.rs) so that they verify in the targets.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

HMAC_SECRET = b"jwt-guard fuzz harness key, not a secret: 0123456789"
ISSUER = "https://issuer.fuzz.example"
AUDIENCE = "api"
FAR = 4102444800  # 2100-01-01


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def hs256(header: dict, payload: bytes) -> str:
    signing_input = f"{b64(compact(header))}.{b64(payload)}"
    mac = hmac.new(HMAC_SECRET, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def claims_sets():
    """Claims in the shapes the tests and the identity providers use."""
    base = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "exp": FAR, "iat": 1700000000}
    yield base
    yield {**base, "aud": [AUDIENCE, "other"], "nbf": 1700000000, "jti": "j-1"}
    yield {**base, "roles": ["admin", "user"], "permissions": ["read", "write"], "sid": "s1"}
    yield {**base, "exp": 4102444800.5, "iat_us": 1700000000123456}
    yield {**base, "tenant": {"id": 7, "name": "acme"}, "plan": {"team": {"seats": 3}}}
    yield {**base, "preferred_username": "bob", "realm_access": {"roles": ["r"]}, "scope": "a b"}
    yield {**base, "sub": "caf\u00e9 \u2603", "iss": ISSUER.replace("/", "\\/")}
    yield {"iss": ISSUER, "aud": AUDIENCE, "exp": 1}  # expired
    yield {"aud": AUDIENCE, "exp": FAR}  # no issuer


def openssl_keys(tmp: Path):
    """PEM documents, private and public, for each key type."""
    kinds = {
        "rsa": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "p256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "p384": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "p521": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
        "ed25519": ["-algorithm", "ED25519"],
    }
    out = {}
    for name, args in kinds.items():
        private = tmp / f"{name}.pem"
        subprocess.run(["openssl", "genpkey", *args, "-out", str(private)], check=True,
                       stderr=subprocess.DEVNULL)
        public = subprocess.run(["openssl", "pkey", "-in", str(private), "-pubout"],
                                check=True, capture_output=True).stdout
        out[name] = (private.read_bytes(), public)
        if name in ("p256", "p384", "p521"):
            # SEC1 "EC PRIVATE KEY" as well as PKCS#8.
            sec1 = subprocess.run(["openssl", "ec", "-in", str(private)], check=True,
                                  capture_output=True).stdout
            out[name + "-sec1"] = (sec1, public)
        if name == "rsa":
            pkcs1 = subprocess.run(["openssl", "rsa", "-in", str(private), "-traditional"],
                                   check=True, capture_output=True).stdout
            pkcs1_public = subprocess.run(
                ["openssl", "rsa", "-in", str(private), "-RSAPublicKey_out"],
                check=True, capture_output=True).stdout
            out["rsa-pkcs1"] = (pkcs1, pkcs1_public)
    return out


def main():
    out = Path(sys.argv[1])
    wycheproof = Path(os.environ.get("WYCHEPROOF_DIR", Path(__file__).resolve().parents[2]
                                     / "shared/vectors/wycheproof"))
    seeds = {name: [] for name in ("jws", "claims", "jwk", "pem", "refresh_token",
                                   "token_sources", "lifetime", "discovery", "differential",
                                   "dpop")}

    # Wycheproof: each group's keys with each of its tokens; the keys alone.
    for file in ("json_web_signature_test.json", "json_web_key_test.json"):
        path = wycheproof / file
        if not path.exists():
            sys.exit(f"seed.py: {path} not found (set WYCHEPROOF_DIR)")
        for group in json.loads(path.read_text())["testGroups"]:
            key = group.get("public") or group.get("private")
            keys = key["keys"] if "keys" in key else [key]
            jwks = compact({"keys": keys})
            for selector, one in enumerate(keys):
                seeds["jwk"].append(bytes([selector]) + compact(one))
            seeds["jwk"].append(b"\x00" + jwks)
            for test in group["tests"]:
                token = test["jws"].encode() if isinstance(test["jws"], str) else compact(test["jws"])
                seeds["jws"].append(jwks + b"\n" + token)
                seeds["jws"].append(token)
                parts = test["jws"].split(".") if isinstance(test["jws"], str) else []
                if len(parts) == 3:
                    pad = "=" * (-len(parts[1]) % 4)
                    try:
                        seeds["claims"].append(base64.urlsafe_b64decode(parts[1] + pad))
                    except ValueError:
                        pass

    # Tokens and claims minted now, for the harness's HS256 key.
    for claims in claims_sets():
        payload = compact(claims)
        seeds["claims"].append(payload)
        for header in ({"alg": "HS256", "typ": "JWT", "kid": "hs"}, {"alg": "HS256"},
                       {"alg": "HS256", "kid": "hs", "crit": ["exp"], "exp": 1},
                       {"alg": "HS256", "typ": "at+jwt", "kid": "hs"}):
            seeds["jws"].append(hs256(header, payload).encode())
            seeds["differential"].append(b"\x00" + compact(header) + b"\n" + payload)
        seeds["differential"].append(
            b"\x01" + compact({"alg": "EdDSA", "kid": "ed", "typ": "JWT"}) + b"\n" + payload)
    seeds["jws"].append(b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.")

    with tempfile.TemporaryDirectory() as tmp:
        for selector, (private, public) in enumerate(openssl_keys(Path(tmp)).values()):
            for byte in range(9):
                if byte % 3 == selector % 3:
                    seeds["pem"].append(bytes([byte]) + private)
                    seeds["pem"].append(bytes([byte]) + public)

    for sub in ("alice", "alice@example.com", "caf\u00e9", "x" * 300):
        family = b64(secrets.token_bytes(16))
        seeds["refresh_token"].append(
            f"{b64(sub.encode())}.{family}.{b64(secrets.token_bytes(32))}".encode())

    token = hs256({"alg": "HS256", "kid": "hs"}, compact(next(claims_sets()))).encode()
    seeds["token_sources"] += [
        b"a: Bearer " + token,
        b"a: bearer  " + token + b"\na: Basic dXNlcjpwdw==",
        b"c: access_token=" + token + b"; theme=dark",
        b'c: a=1; access_token="' + token + b'"\nc: access_token=' + token,
        b"?access_token=" + token + b"&x=1",
        b"?access_token=&access_token=" + token,
        b"a: Bearer\nc: access_token=",
    ]

    seeds["lifetime"] += [s.encode() for s in
                          ("15m", "90s", "8h", "7d", "1h30m", " 1d12h ", "0s", "15", "1m1h",
                           "213503982334602d", "18446744073709551615s")]

    for issuer in ("https://id.example", "https://id.example/realms/a", "http://127.0.0.1:8080"):
        document = {"issuer": issuer, "jwks_uri": issuer + "/jwks",
                    "id_token_signing_alg_values_supported": ["RS256"]}
        seeds["discovery"].append(issuer.encode() + b"\n" + compact(document))
        seeds["discovery"].append(
            issuer.encode() + b"\n" + compact({**document, "jwks_uri": "file:///etc/passwd"}))

    # DPoP: proof shapes (signatures that cannot verify: the fuzzer finds
    # the parsing paths) and request URIs for the normal form.
    part = lambda value: base64.urlsafe_b64encode(value).rstrip(b"=")
    header = {"typ": "dpop+jwt", "alg": "ES256",
              "jwk": {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                      "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}
    claims = {"jti": "j-1", "htm": "GET", "htu": "https://api.example/v1/me", "iat": 1700000000,
              "ath": "bbz2gm_ZZFtGmHHGw0mv6TFoJ9F4Mcj8ZOEYCtGFnx0"}
    for h, c in ((header, claims), ({**header, "alg": "none"}, claims),
                 ({**header, "jwk": {**header["jwk"], "d": "x"}}, claims),
                 (header, {**claims, "htu": "HTTPS://API.example:443/v1/./me?x#y"})):
        seeds["dpop"].append(b"\x00" + part(compact(h)) + b"." + part(compact(c)) + b"." + part(b"\x01" * 64))
    for uri in ("https://api.example/v1/me", "HTTP://Api.Example:80/a/../b/%7e?q#f",
                "http://[::1]:3000/x/%2f", "https://api.example:0443", "http://h/%zz"):
        seeds["dpop"].append(b"\x01" + uri.encode())

    for name, inputs in seeds.items():
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        for data in inputs:
            (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)
        print(f"seed.py: {name}: {len(inputs)} seeds")


if __name__ == "__main__":
    main()
