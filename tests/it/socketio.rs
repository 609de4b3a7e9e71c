//! `jwt_guard::socketio` driven by the real JavaScript client
//! (`socket.io-client` 4, from `interop/node`) over both transports, on a
//! server built here: optional and guarded namespaces, the token's three
//! sources, refused events answered and the socket kept, reauthentication,
//! claims in disconnect handlers, a store that cannot answer, and a
//! handler on a namespace no `SocketAuth` guards.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::routing::get;
use jwt_guard::socketio::{MaybeClaims, SocketAuth};
use jwt_guard::store::{MemoryStore, RevocationStore};
use jwt_guard::{Authenticator, Claims, JwtLayer, RequirePermission, RequireRole, StandardClaims};
use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::ConnectHandler;

use crate::support::socketio::{Clients, PROMPTLY, TRANSPORTS, clients};
use crate::support::{
    FailingStore, ISSUER, claims, eventually, mint, serve, token, validator, validator_builder,
};

jwt_guard::role!(Admin = "admin");
jwt_guard::permission!(WriteDocs = "docs:write");

type Subjects = Arc<Mutex<Vec<String>>>;

struct Server {
    url: String,
    store: MemoryStore,
    /// The subjects disconnect handlers saw, in order.
    disconnected: Subjects,
}

fn who(claims: &StandardClaims) -> Value {
    json!({ "sub": claims.sub, "exp": claims.exp.map(|exp| exp.as_secs()) })
}

async fn on_connect(socket: SocketRef, claims: Claims<StandardClaims>, disconnected: Subjects) {
    let _ = socket.emit("welcome", &who(&claims));
    socket.on(
        "whoami",
        async |claims: Claims<StandardClaims>, ack: AckSender| {
            let _ = ack.send(&who(&claims));
        },
    );
    socket.on(
        "admin:ping",
        async |_: RequireRole<Admin>, ack: AckSender| {
            let _ = ack.send(&json!({ "ok": true }));
        },
    );
    socket.on(
        "docs:write",
        async |_: RequirePermission<WriteDocs>, ack: AckSender| {
            let _ = ack.send(&json!({ "ok": true }));
        },
    );
    socket.on_disconnect(async move |claims: Claims<StandardClaims>| {
        disconnected.lock().unwrap().push(claims.sub.clone());
    });
}

async fn on_public(socket: SocketRef, MaybeClaims(claims): MaybeClaims<StandardClaims>) {
    let _ = socket.emit("welcome", &json!({ "sub": claims.map(|c| c.sub.clone()) }));
    socket.on(
        "whoami",
        async |MaybeClaims(claims): MaybeClaims<StandardClaims>, ack: AckSender| {
            let _ = ack.send(&json!({ "sub": claims.map(|c| c.sub.clone()) }));
        },
    );
}

/// A server on `authenticator`'s pipeline, inside `outer` when given.
async fn server_on(
    authenticator: Authenticator<StandardClaims>,
    store: MemoryStore,
    outer: Option<JwtLayer<StandardClaims>>,
) -> Server {
    let disconnected = Subjects::default();
    let (layer, io) = SocketIo::new_layer();
    let seen = disconnected.clone();
    io.ns(
        "/",
        (async move |socket: SocketRef, claims: Claims<StandardClaims>| {
            on_connect(socket, claims, seen).await;
        })
        .with(SocketAuth::new(authenticator.clone())),
    );
    io.ns(
        "/public",
        on_public.with(
            SocketAuth::builder(authenticator.clone())
                .optional(true)
                .build()
                .unwrap(),
        ),
    );
    io.ns(
        "/admin",
        (async |socket: SocketRef, claims: Claims<StandardClaims>| {
            let _ = socket.emit("welcome", &who(&claims));
        })
        .with(
            SocketAuth::builder(authenticator.clone())
                .require::<Admin>()
                .build()
                .unwrap(),
        ),
    );
    // Optional, and kept to a role: no one anonymously.
    io.ns(
        "/staff",
        (async |socket: SocketRef, MaybeClaims(claims): MaybeClaims<StandardClaims>| {
            let _ = socket.emit("welcome", &json!({ "sub": claims.map(|c| c.sub.clone()) }));
        })
        .with(
            SocketAuth::builder(authenticator.clone())
                .optional(true)
                .require::<Admin>()
                .build()
                .unwrap(),
        ),
    );
    // A mistake: claims asked for where no SocketAuth let the socket in.
    io.ns("/unguarded", async |socket: SocketRef| {
        socket.on(
            "whoami",
            async |claims: Claims<StandardClaims>, ack: AckSender| {
                let _ = ack.send(&who(&claims));
            },
        );
    });
    let mut app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer);
    if let Some(outer) = outer {
        app = app.layer(outer);
    }
    Server {
        url: serve(app).await,
        store,
        disconnected,
    }
}

async fn server() -> Server {
    let store = MemoryStore::new();
    let authenticator = Authenticator::builder(validator())
        .store(store.clone())
        .build();
    server_on(authenticator, store, None).await
}

async fn driver(test: &str) -> Option<Clients> {
    let mut clients = clients(test)?;
    assert!(clients.version().await.starts_with("4."));
    Some(clients)
}

fn on(namespace: &str, auth: Option<Value>) -> Value {
    json!({ "namespace": namespace, "auth": auth })
}

async fn revoke(store: &MemoryStore, token: &str) {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    store
        .revoke_token(
            claims["jti"].as_str().unwrap(),
            claims["sub"].as_str(),
            SystemTime::now() + Duration::from_secs(600),
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespaces_are_required_optional_or_guarded() {
    let Some(mut clients) = driver("namespaces_are_required_optional_or_guarded").await else {
        return;
    };
    let server = server().await;
    let url = &server.url;
    let alice = token("alice", &["admin"]);
    let bob = token("bob", &["user"]);
    for t in TRANSPORTS {
        // Optional: in without a token, and a token that is there is checked.
        clients.connect_with(&format!("anon-{t}"), url, t, on("/public", None));
        let welcome = clients
            .event(&format!("anon-{t}"), "welcome", PROMPTLY)
            .await;
        assert_eq!(welcome["args"][0], json!({ "sub": null }));
        let id = format!("public-{t}");
        clients.connect_with(&id, url, t, on("/public", Some(json!({ "token": alice }))));
        let welcome = clients.event(&id, "welcome", PROMPTLY).await;
        assert_eq!(welcome["args"][0], json!({ "sub": "alice" }));
        let id = format!("public-forged-{t}");
        let forged = format!("{alice}x");
        clients.connect_with(&id, url, t, on("/public", Some(json!({ "token": forged }))));
        assert_eq!(clients.refusal(&id).await, "invalid_token");

        // Required: no token is `missing_token`.
        let id = format!("required-{t}");
        clients.connect_with(&id, url, t, on("/", None));
        assert_eq!(clients.refusal(&id).await, "missing_token");

        // Guarded: bob lacks the role, alice has it.
        let id = format!("admin-bob-{t}");
        clients.connect_with(&id, url, t, on("/admin", Some(json!({ "token": bob }))));
        assert_eq!(clients.refusal(&id).await, "insufficient_scope");
        let id = format!("admin-alice-{t}");
        clients.connect_with(&id, url, t, on("/admin", Some(json!({ "token": alice }))));
        clients.event(&id, "welcome", PROMPTLY).await;
        // A fresh token must meet the namespace's requirement too.
        let demoted = token("alice", &["user"]);
        assert_eq!(
            clients.ask(&id, "auth:refresh", json!([demoted])).await,
            json!({ "error": "insufficient_scope" })
        );

        // Optional and guarded: the requirement keeps anonymous clients out.
        let id = format!("staff-anon-{t}");
        clients.connect_with(&id, url, t, on("/staff", None));
        assert_eq!(clients.refusal(&id).await, "missing_token");
        let id = format!("staff-bob-{t}");
        clients.connect_with(&id, url, t, on("/staff", Some(json!({ "token": bob }))));
        assert_eq!(clients.refusal(&id).await, "insufficient_scope");
        let id = format!("staff-alice-{t}");
        clients.connect_with(&id, url, t, on("/staff", Some(json!({ "token": alice }))));
        let welcome = clients.event(&id, "welcome", PROMPTLY).await;
        assert_eq!(welcome["args"][0], json!({ "sub": "alice" }));

        // An anonymous socket signs in with a token on the open socket.
        let id = format!("anon-{t}");
        assert_eq!(
            clients
                .ask(&id, "auth:refresh", json!([{ "token": bob }]))
                .await["ok"],
            true
        );
        assert_eq!(
            clients.ask(&id, "whoami", json!([])).await,
            json!({ "sub": "bob" })
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_comes_from_auth_then_the_authorization_header() {
    let Some(mut clients) = driver("the_token_comes_from_auth_then_the_authorization_header").await
    else {
        return;
    };
    let server = server().await;
    let url = &server.url;
    let alice = token("alice", &[]);
    let bob = token("bob", &[]);
    for t in TRANSPORTS {
        let header = |token: &str| json!({ "authorization": format!("Bearer {token}") });
        let id = format!("header-{t}");
        clients.connect_with(&id, url, t, json!({ "headers": header(&alice) }));
        assert_eq!(
            clients.event(&id, "welcome", PROMPTLY).await["args"][0]["sub"],
            "alice"
        );
        // The CONNECT packet's token first.
        let id = format!("both-{t}");
        clients.connect_with(
            &id,
            url,
            t,
            json!({ "headers": header(&alice), "auth": { "token": bob } }),
        );
        assert_eq!(
            clients.event(&id, "welcome", PROMPTLY).await["args"][0]["sub"],
            "bob"
        );
        // With the `Bearer ` prefix some clients put in `auth.token`.
        let id = format!("prefixed-{t}");
        clients.connect(
            &id,
            url,
            t,
            Some(json!({ "token": format!("Bearer {alice}") })),
        );
        assert_eq!(
            clients.event(&id, "welcome", PROMPTLY).await["args"][0]["sub"],
            "alice"
        );
        for (name, auth) in [
            ("number", json!({ "token": 42 })),
            ("empty", json!({ "token": "" })),
            ("list", json!({ "token": ["a.b.c"] })),
        ] {
            let id = format!("{name}-{t}");
            clients.connect(&id, url, t, Some(auth));
            assert_eq!(clients.refusal(&id).await, "invalid_request", "{name}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_events_are_answered_and_the_socket_stays() {
    let Some(mut clients) = driver("refused_events_are_answered_and_the_socket_stays").await else {
        return;
    };
    let server = server().await;
    let mut writer = claims("bob", &["user"]);
    writer["permissions"] = json!(["docs:write"]);
    let bob = mint(&writer);
    for t in TRANSPORTS {
        let id = format!("bob-{t}");
        clients.connected(&id, &server.url, t, &bob).await;
        let refused = json!({ "error": "insufficient_scope" });
        assert_eq!(clients.ask(&id, "admin:ping", json!([])).await, refused);
        assert_eq!(
            clients.ask(&id, "docs:write", json!([])).await,
            json!({ "ok": true })
        );
        // Without an ack, the error event names the refused event.
        clients.tell(&id, "admin:ping", json!([])).await;
        let told = clients.event(&id, "auth_error", PROMPTLY).await;
        assert_eq!(
            told["args"][0],
            json!({ "error": "insufficient_scope", "event": "admin:ping" })
        );
        assert_eq!(clients.ask(&id, "whoami", json!([])).await["sub"], "bob");
        assert!(!clients.saw(&id, "disconnect"));

        // A permission guard, for a token without the permission.
        let id = format!("eve-{t}");
        clients
            .connected(&id, &server.url, t, &token("eve", &["admin"]))
            .await;
        assert_eq!(clients.ask(&id, "docs:write", json!([])).await, refused);
        assert_eq!(
            clients.ask(&id, "admin:ping", json!([])).await,
            json!({ "ok": true })
        );
        // A refused refresh without an ack is told by the error event.
        clients
            .tell(&id, "auth:refresh", json!(["not.a.token"]))
            .await;
        let told = clients.event(&id, "auth_error", PROMPTLY).await;
        assert_eq!(
            told["args"][0],
            json!({ "error": "invalid_token", "event": "auth:refresh" })
        );
        assert!(!clients.saw(&id, "disconnect"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_token_replaces_the_watched_one() {
    let Some(mut clients) = driver("a_fresh_token_replaces_the_watched_one").await else {
        return;
    };
    let server = server().await;
    for t in TRANSPORTS {
        let first = token("alice", &[]);
        let mut later = claims("alice", &[]);
        later["exp"] = json!(later["exp"].as_u64().unwrap() + 600);
        let second = mint(&later);
        let id = format!("alice-{t}");
        clients.connected(&id, &server.url, t, &first).await;
        let answer = clients
            .ask(&id, "auth:refresh", json!([{ "token": second }]))
            .await;
        assert_eq!(answer, json!({ "ok": true, "exp": later["exp"] }));
        assert_eq!(
            clients.ask(&id, "whoami", json!([])).await["exp"],
            later["exp"]
        );

        // Refused: another subject, a forged token, no token, not text.
        for (payload, error) in [
            (json!(token("bob", &[])), "invalid_token"),
            (json!(format!("{second}x")), "invalid_token"),
            (json!({}), "missing_token"),
            (json!({ "token": 7 }), "invalid_request"),
        ] {
            let answer = clients.ask(&id, "auth:refresh", json!([payload])).await;
            assert_eq!(answer, json!({ "error": error }), "{payload}");
        }
        assert_eq!(clients.ask(&id, "whoami", json!([])).await["sub"], "alice");

        // The old token no longer ends the socket; the new one does.
        revoke(&server.store, &first).await;
        assert_eq!(
            clients.ask(&id, "whoami", json!([])).await["exp"],
            later["exp"]
        );
        revoke(&server.store, &second).await;
        clients.ended(&id, "revoked", Duration::from_secs(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_leaves_the_old_expiry_to_end_the_socket() {
    let Some(mut clients) =
        driver("a_refused_refresh_leaves_the_old_expiry_to_end_the_socket").await
    else {
        return;
    };
    let server = server().await;
    let mut short = claims("alice", &[]);
    short["exp"] = json!(crate::support::now() + 2);
    let short = mint(&short);
    for t in TRANSPORTS {
        clients.connected(t, &server.url, t, &short).await;
        let answer = clients
            .ask(t, "auth:refresh", json!([format!("{short}x")]))
            .await;
        assert_eq!(answer, json!({ "error": "invalid_token" }));
    }
    for t in TRANSPORTS {
        clients.ended(t, "expired", Duration::from_secs(4)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_handlers_get_the_claims_of_a_revoked_socket() {
    let Some(mut clients) = driver("disconnect_handlers_get_the_claims_of_a_revoked_socket").await
    else {
        return;
    };
    let server = server().await;
    let carol = token("carol", &[]);
    clients
        .connected("carol", &server.url, "websocket", &carol)
        .await;
    revoke(&server.store, &carol).await;
    clients
        .ended("carol", "revoked", Duration::from_secs(1))
        .await;
    let seen = server.disconnected.clone();
    eventually("the disconnect handler ran", PROMPTLY, async || {
        seen.lock().unwrap().contains(&"carol".to_owned())
    })
    .await;
}

/// Claims an outer layer verified (here from a cookie, which `SocketAuth`
/// does not read) let the socket in, and are checked again in its store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outer_layers_claims_are_checked_again() {
    let Some(mut clients) = driver("an_outer_layers_claims_are_checked_again").await else {
        return;
    };
    // The outer layer allows more leeway than the socket's pipeline.
    let lenient = validator_builder()
        .leeway(Duration::from_secs(600))
        .build()
        .unwrap();
    let outer = JwtLayer::<StandardClaims>::builder(lenient)
        .optional(true)
        .cookie("session")
        .build();
    let store = MemoryStore::new();
    let authenticator = Authenticator::builder(validator())
        .store(store.clone())
        .build();
    let server = server_on(authenticator, store, Some(outer)).await;
    let dave = token("dave", &[]);
    let cookie = json!({ "headers": { "cookie": format!("session={dave}") } });
    for t in TRANSPORTS {
        let id = format!("dave-{t}");
        clients.connect_with(&id, &server.url, t, cookie.clone());
        assert_eq!(
            clients.event(&id, "welcome", PROMPTLY).await["args"][0]["sub"],
            "dave"
        );
    }
    // Expired two minutes ago: within the outer layer's leeway, not the pipeline's.
    let mut stale = claims("erin", &[]);
    let now = crate::support::now();
    stale["exp"] = json!(now - 120);
    stale["iat"] = json!(now - 300);
    stale["nbf"] = json!(now - 300);
    let stale = json!({ "headers": { "cookie": format!("session={}", mint(&stale)) } });
    for t in TRANSPORTS {
        let id = format!("stale-{t}");
        clients.connect_with(&id, &server.url, t, stale.clone());
        assert_eq!(clients.refusal(&id).await, "invalid_token");
    }
    // Revoked in the socket's store (the outer layer's knows nothing of it).
    revoke(&server.store, &dave).await;
    for t in TRANSPORTS {
        clients
            .ended(&format!("dave-{t}"), "revoked", Duration::from_secs(1))
            .await;
        let id = format!("again-{t}");
        clients.connect_with(&id, &server.url, t, cookie.clone());
        assert_eq!(clients.refusal(&id).await, "invalid_token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_answer_refuses_and_a_mistake_is_answered() {
    let Some(mut clients) =
        driver("a_store_that_cannot_answer_refuses_and_a_mistake_is_answered").await
    else {
        return;
    };
    let authenticator = Authenticator::builder(validator())
        .store(FailingStore)
        .build();
    let server = server_on(authenticator, MemoryStore::new(), None).await;
    let alice = token("alice", &[]);
    for t in TRANSPORTS {
        let id = format!("down-{t}");
        clients.connect(&id, &server.url, t, Some(json!({ "token": alice })));
        assert_eq!(clients.refusal(&id).await, "temporarily_unavailable");
        // A namespace no SocketAuth guards: the handler asking for claims
        // is answered `server_error`, nothing more.
        let id = format!("unguarded-{t}");
        clients.connect_with(
            &id,
            &server.url,
            t,
            on("/unguarded", Some(json!({ "token": alice }))),
        );
        clients.event(&id, "connect", PROMPTLY).await;
        assert_eq!(
            clients.ask(&id, "whoami", json!([])).await,
            json!({ "error": "server_error" })
        );
    }
}

/// What no client library sends, sent by hand over Engine.IO's polling
/// transport: a CONNECT packet whose `auth` payload is not an object.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auth_payload_that_is_not_an_object_is_an_invalid_request() {
    let server = server().await;
    let client = crate::support::client();
    let poll = format!("{}/socket.io/?EIO=4&transport=polling", server.url);
    let open = client
        .get(&poll)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // `0{"sid":…}`: the Engine.IO open packet.
    let open: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
    let session = format!("{poll}&sid={}", open["sid"].as_str().unwrap());
    let mut packets: Vec<String> = Vec::new();
    for (payload, said) in [
        (r#""a.b.c""#, "invalid_request"),
        ("[1]", "invalid_request"),
        ("{}", "missing_token"),
    ] {
        // `4` message, `0` CONNECT, then the auth payload.
        let sent = client
            .post(&session)
            .body(format!("40{payload}"))
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success());
        // Polls until the CONNECT_ERROR comes: a poll may also bring other
        // packets (a noop), or answer before the middleware has.
        let deadline = std::time::Instant::now() + PROMPTLY;
        let error = loop {
            if let Some(error) = packets.iter().position(|p: &String| p.starts_with("44")) {
                break packets.remove(error);
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{payload}: no CONNECT_ERROR in {packets:?}"
            );
            let answer = client
                .get(&session)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            packets.extend(answer.split('\u{1e}').map(str::to_owned));
        };
        // `4` message, `4` CONNECT_ERROR, then `{"message": …}`.
        let error: Value = serde_json::from_str(&error[2..]).unwrap();
        assert_eq!(error, json!({ "message": said }), "{payload}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_token_from_another_trusted_issuer_is_refused() {
    let Some(mut clients) = driver("a_fresh_token_from_another_trusted_issuer_is_refused").await
    else {
        return;
    };
    const OTHER: &str = "https://other-issuer.test";
    let store = MemoryStore::new();
    let two_issuers = validator_builder().issuer(OTHER).build().unwrap();
    let authenticator = Authenticator::builder(two_issuers)
        .store(store.clone())
        .build();
    let server = server_on(authenticator, store, None).await;
    let mut elsewhere = claims("alice", &[]);
    elsewhere["iss"] = json!(OTHER);
    let elsewhere = mint(&elsewhere);
    for t in TRANSPORTS {
        let id = format!("alice-{t}");
        clients
            .connected(&id, &server.url, t, &token("alice", &[]))
            .await;
        // The same subject, vouched for by another issuer: another identity.
        assert_eq!(
            clients.ask(&id, "auth:refresh", json!([elsewhere])).await,
            json!({ "error": "invalid_token" })
        );
        let mut same = claims("alice", &[]);
        assert_eq!(same["iss"], ISSUER);
        same["exp"] = json!(same["exp"].as_u64().unwrap() + 60);
        assert_eq!(
            clients.ask(&id, "auth:refresh", json!([mint(&same)])).await["ok"],
            true
        );
    }
}
