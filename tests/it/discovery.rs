//! Keys found from the issuer alone (`RemoteJwks::discover`), against a
//! provider served here whose documents the tests change while it runs:
//! OpenID Connect Discovery, RFC 8414's fallback, the mix-up defence, and
//! failures retried rather than kept. The same against a real OpenID
//! Provider is in `tests/it/oidc.rs`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::keys::{JwksErrorKind, RemoteJwks};
use jwt_guard::{AuthErrorKind, ConfigErrorKind, SigningKey, StandardClaims, Validator};
use serde_json::{Value, json};

use crate::support::keys::ed25519_key;
use crate::support::{AUDIENCE, claims, eventually, serve};

/// The documents the provider serves, by path; a path without one is 404.
type Documents = Arc<Mutex<Vec<(String, StatusCode, String)>>>;

/// Every request the provider got, by path.
type Requests = Arc<Mutex<Vec<String>>>;

struct Provider {
    base: String,
    documents: Documents,
    requests: Requests,
    signer: SigningKey,
    jwks: Value,
}

const OIDC: &str = "/tenant/.well-known/openid-configuration";
const OAUTH: &str = "/.well-known/oauth-authorization-server/tenant";

async fn document(
    State((documents, requests)): State<(Documents, Requests)>,
    Path(path): Path<String>,
) -> Response {
    let path = format!("/{path}");
    requests.lock().unwrap().push(path.clone());
    let documents = documents.lock().unwrap();
    match documents.iter().find(|(p, _, _)| *p == path) {
        Some((_, status, body)) => (*status, body.clone()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

impl Provider {
    async fn start() -> Self {
        let documents = Documents::default();
        let requests = Requests::default();
        let app = Router::new()
            .route("/{*path}", get(document))
            .with_state((documents.clone(), requests.clone()));
        let base = serve(app).await;
        let key = ed25519_key();
        let signer = SigningKey::from_ed_pem(&key.private_pem)
            .unwrap()
            .with_kid("k1");
        let jwks = json!({ "keys": [{
            "kty": "OKP", "crv": "Ed25519", "kid": "k1", "use": "sig",
            "x": URL_SAFE_NO_PAD.encode(&key.public_raw),
        }]});
        let provider = Self {
            base,
            documents,
            requests,
            signer,
            jwks,
        };
        provider.serve("/keys", StatusCode::OK, provider.jwks.to_string());
        provider
    }

    fn issuer(&self) -> String {
        format!("{}/tenant", self.base)
    }

    fn serve(&self, path: &str, status: StatusCode, body: String) {
        let mut documents = self.documents.lock().unwrap();
        documents.retain(|(p, _, _)| p != path);
        documents.push((path.to_owned(), status, body));
    }

    fn metadata(&self, issuer: &str) -> String {
        json!({ "issuer": issuer, "jwks_uri": format!("{}/keys", self.base) }).to_string()
    }

    fn token(&self, iss: &str) -> String {
        let mut claims = claims("svc", &[]);
        claims["iss"] = json!(iss);
        self.signer.sign("at+jwt", &claims).unwrap()
    }
}

fn discovered(provider: &Provider) -> RemoteJwks {
    RemoteJwks::discover(provider.issuer())
        .refresh_interval(Duration::from_secs(3600))
        .build()
        .unwrap()
}

fn validator(remote: &RemoteJwks) -> Validator {
    Validator::builder()
        .remote_jwks(remote)
        .audience(AUDIENCE)
        .build()
        .unwrap()
}

#[tokio::test]
async fn discovery_finds_the_keys_and_requires_the_issuer() {
    let provider = Provider::start().await;
    provider.serve(OIDC, StatusCode::OK, provider.metadata(&provider.issuer()));
    let remote = discovered(&provider);
    remote.ready(Duration::from_secs(5)).await.unwrap();
    assert_eq!(remote.issuer(), Some(provider.issuer().as_str()));
    let validator = validator(&remote);
    let verified = validator
        .validate::<StandardClaims>(&provider.token(&provider.issuer()))
        .unwrap();
    assert_eq!(verified.claims().sub, "svc");
    // The issuer is required as `iss`: the same key vouching for another is refused.
    let error = validator
        .validate::<StandardClaims>(&provider.token("https://elsewhere.test"))
        .unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::InvalidIssuer);
}

#[tokio::test]
async fn rfc_8414_metadata_is_the_fallback() {
    let provider = Provider::start().await;
    provider.serve(OAUTH, StatusCode::OK, provider.metadata(&provider.issuer()));
    let remote = discovered(&provider);
    remote.ready(Duration::from_secs(5)).await.unwrap();
    assert!(
        validator(&remote)
            .validate::<StandardClaims>(&provider.token(&provider.issuer()))
            .is_ok()
    );
}

/// A document naming another issuer is refused (the mix-up defence), and
/// a failed discovery is retried, never kept: once the provider serves the
/// right document, the keys come without a restart.
#[tokio::test]
async fn a_document_for_another_issuer_is_refused_and_failures_are_retried() {
    let provider = Provider::start().await;
    let issuer = provider.issuer();
    for other in [
        format!("{issuer}/"),
        format!("{issuer}x"),
        provider.base.clone(),
    ] {
        provider.serve(OIDC, StatusCode::OK, provider.metadata(&other));
    }
    provider.serve(OAUTH, StatusCode::SERVICE_UNAVAILABLE, String::new());
    let remote = discovered(&provider);
    let error = remote.ready(Duration::from_millis(1500)).await.unwrap_err();
    assert_eq!(error.kind(), JwksErrorKind::NotReady);
    assert_eq!(
        remote.last_error().map(|e| e.kind()),
        Some(JwksErrorKind::Discovery)
    );
    let validator = validator(&remote);
    // No keys yet is no verdict on the token: 503 with Retry-After, not 401.
    let error = validator
        .validate::<StandardClaims>(&provider.token(&issuer))
        .unwrap_err();
    assert_eq!(error.kind(), AuthErrorKind::KeysUnavailable);
    let response = error.to_http_response("api");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");

    provider.serve(OIDC, StatusCode::OK, provider.metadata(&issuer));
    remote.ready(Duration::from_secs(10)).await.unwrap();
    assert!(
        validator
            .validate::<StandardClaims>(&provider.token(&issuer))
            .is_ok()
    );
}

#[tokio::test]
async fn a_metadata_document_without_a_usable_jwks_uri_is_refused() {
    let provider = Provider::start().await;
    let issuer = provider.issuer();
    for jwks_uri in [json!("http://keys.example/jwks"), json!(42), json!("keys")] {
        provider.serve(
            OIDC,
            StatusCode::OK,
            json!({ "issuer": issuer, "jwks_uri": jwks_uri }).to_string(),
        );
        let remote = discovered(&provider);
        let seen = remote.clone();
        eventually("the discovery fails", Duration::from_secs(5), async || {
            seen.last_error().is_some()
        })
        .await;
        assert_eq!(
            remote.last_error().map(|e| e.kind()),
            Some(JwksErrorKind::Discovery),
            "{jwks_uri}"
        );
        assert!(!remote.is_ready());
    }
}

#[test]
fn an_issuer_url_is_checked_when_built() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = runtime.enter();
    for issuer in [
        "https://idp.example/?tenant=a",
        "https://idp.example/#a",
        "http://idp.example",
        "ftp://idp.example",
    ] {
        let error = RemoteJwks::discover(issuer).build().unwrap_err();
        assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting, "{issuer}");
    }
    assert!(
        RemoteJwks::discover("http://127.0.0.1:1/realms/x")
            .build()
            .is_ok()
    );
}

/// Among several trusted issuers, a token naming an issuer not trusted is
/// refused before any key source is asked: no request reaches a provider,
/// however many such tokens come, each with a `kid` never seen.
#[tokio::test]
async fn an_unknown_issuer_is_refused_without_a_request_to_any_provider() {
    let provider = Provider::start().await;
    provider.serve(OIDC, StatusCode::OK, provider.metadata(&provider.issuer()));
    let remote = RemoteJwks::discover(provider.issuer())
        .refresh_interval(Duration::from_secs(3600))
        .cooldown(Duration::from_millis(1))
        .build()
        .unwrap();
    remote.ready(Duration::from_secs(5)).await.unwrap();
    let issuers = jwt_guard::verify::TrustedIssuers::new();
    issuers.insert(validator(&remote)).unwrap();
    let validator = Validator::builder()
        .trusted_issuers(issuers)
        .build()
        .unwrap();
    assert!(
        validator
            .validate::<StandardClaims>(&provider.token(&provider.issuer()))
            .is_ok()
    );
    let before = provider.requests.lock().unwrap().len();
    for i in 0..20 {
        let mut claims = claims("mallory", &[]);
        claims["iss"] = json!("https://unknown.test");
        let token = SigningKey::from_ed_pem(&ed25519_key().private_pem)
            .unwrap()
            .with_kid(format!("never-seen-{i}"))
            .sign("at+jwt", &claims)
            .unwrap();
        assert_eq!(
            validator
                .validate::<StandardClaims>(&token)
                .unwrap_err()
                .kind(),
            AuthErrorKind::InvalidIssuer
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let requests = provider.requests.lock().unwrap();
    assert_eq!(requests.len(), before, "{:?}", &requests[before..]);
}

/// Two key sets, or a discovered issuer beside another issuer, in one
/// validator would verify one issuer's tokens with the other's keys: refused.
#[tokio::test]
async fn one_validator_takes_one_discovered_issuer() {
    let a = RemoteJwks::discover("http://127.0.0.1:1/a")
        .build()
        .unwrap();
    let b = RemoteJwks::discover("http://127.0.0.1:1/b")
        .build()
        .unwrap();
    for builder in [
        Validator::builder().remote_jwks(&a).remote_jwks(&b),
        Validator::builder()
            .remote_jwks(&a)
            .issuer("https://other.test"),
        Validator::builder()
            .shared_keys(a.shared_keys())
            .remote_jwks(&b),
    ] {
        let error = builder.build().unwrap_err();
        assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting);
    }
    assert!(Validator::builder().remote_jwks(&a).build().is_ok());
}
