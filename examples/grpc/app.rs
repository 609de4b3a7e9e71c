//! The gRPC example's server: the standard `grpc.health.v1.Health` service
//! behind the layer, every call of which needs role `ops`.

use jwt_guard::{ClaimMapping, ConfigError, JwtLayer, RequireLayer, StandardClaims, Validator};
use tonic::transport::Server;
use tonic::transport::server::Router;
use tower::Layer;
use tower::layer::util::{Identity, Stack};

jwt_guard::role!(Ops = "ops");

/// What the server needs to know; `main` reads it from the environment.
pub struct Config {
    /// The HS256 secret, or the identity provider(s) to discover.
    pub keys: KeySource,
    /// The `iss` of HS256 tokens (with a provider, each issuer is its own).
    pub issuer: String,
    pub audience: String,
}

use super::keys_env;
pub use super::keys_env::KeySource;

/// The tonic server, ready to serve: `JwtLayer` on every service.
pub type GrpcServer = Router<Stack<JwtLayer<StandardClaims>, Identity>>;

/// The server; fails on a bad secret.
pub async fn app(config: &Config) -> Result<GrpcServer, ConfigError> {
    let validator = validator(config)?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let layer = JwtLayer::<StandardClaims>::builder(validator)
        .realm("grpc")
        .build();
    Ok(Server::builder()
        .layer(layer)
        // The guard wraps this one service; others added here need only a token.
        .add_service(RequireLayer::<StandardClaims>::new::<Ops>().layer(health)))
}

/// HS256 (or the provider's keys), `iss` and `aud` required, 30 s leeway.
fn validator(config: &Config) -> Result<Validator, ConfigError> {
    keys_env::validator(
        &config.keys,
        &config.issuer,
        &config.audience,
        ClaimMapping::new(),
    )
}
