"""Drives the Python JWT libraries for jwt-guard's interoperability tests
(tests/it/interop): one JSON request per line on stdin, one JSON answer per
line on stdout, so that a token is verified the moment it is sent.

  {"op":"verify","lib":"pyjwt"|"python-jose","token":…,"alg":…,
   "secret":… | "jwks":{…},"issuer":…,"audience":…}
    -> {"ok":true,"payload":{…}} | {"ok":false,"error":"…"}
  {"op":"mint","lib":…,"alg":"HS256","secret":…,"issuer":…,"audience":…,"sub":…,
   "shape":"keycloak" (optional: a Keycloak-shaped token)}
    -> {"ok":true,"token":"…"}

Every check the libraries offer is on: signature, algorithm, iss, aud, exp,
nbf and iat, with no leeway.
"""

import json
import sys
import time
from importlib.metadata import version

import jwt as pyjwt
from jose import jwt as jose_jwt

VERSIONS = {"pyjwt": version("PyJWT"), "python-jose": version("python-jose")}


def header_kid(token):
    return pyjwt.get_unverified_header(token).get("kid")


def verify(req):
    alg, token = req["alg"], req["token"]
    if req["lib"] == "pyjwt":
        if "jwks" in req:
            key = pyjwt.PyJWKSet.from_dict(req["jwks"])[header_kid(token)].key
        else:
            key = req["secret"]
        return pyjwt.decode(
            token,
            key,
            algorithms=[alg],
            issuer=req["issuer"],
            audience=req["audience"],
            options={"require": ["exp", "iat", "iss", "aud"]},
        )
    if req["lib"] == "python-jose":
        key = req["jwks"] if "jwks" in req else req["secret"]
        return jose_jwt.decode(
            token,
            key,
            algorithms=[alg],
            issuer=req["issuer"],
            audience=req["audience"],
            options={"require_exp": True, "require_iss": True, "require_aud": True},
        )
    raise ValueError(f"unknown library {req['lib']}")


def mint(req):
    if req.get("shape") == "keycloak":
        # A Keycloak access token: realm roles nested, OAuth scopes, a float
        # `exp` as python-jose passes it through.
        now = time.time()
        claims = {
            "sub": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
            "preferred_username": req["sub"],
            "iss": req["issuer"],
            "aud": req["audience"],
            "iat": int(now),
            "exp": now + 300,
            "realm_access": {"roles": ["admin", "offline_access"]},
            "scope": "openid orders:read",
        }
        return jose_jwt.encode(claims, req["secret"], algorithm=req["alg"])
    if req["lib"] == "python-jose":
        # python-jose writes what it is given: here a float `exp`, as
        # `time.time() + 3600` gives it.
        now = time.time()
        claims = {
            "sub": req["sub"],
            "iss": req["issuer"],
            "aud": req["audience"],
            "iat": int(now),
            "exp": now + 3600,
        }
        return jose_jwt.encode(claims, req["secret"], algorithm=req["alg"])
    if req["lib"] == "pyjwt":
        now = int(time.time())
        claims = {
            "sub": req["sub"],
            "iss": req["issuer"],
            "aud": req["audience"],
            "iat": now,
            "exp": now + 3600,
        }
        return pyjwt.encode(claims, req["secret"], algorithm=req["alg"])
    raise ValueError(f"unknown library {req['lib']}")


for line in sys.stdin:
    try:
        req = json.loads(line)
        if req["op"] == "versions":
            answer = {"ok": True, "versions": VERSIONS}
        elif req["op"] == "verify":
            answer = {"ok": True, "payload": verify(req)}
        elif req["op"] == "mint":
            answer = {"ok": True, "token": mint(req)}
        else:
            raise ValueError(f"unknown op {req['op']}")
    except Exception as error:  # every refusal is an answer, not a crash
        answer = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
