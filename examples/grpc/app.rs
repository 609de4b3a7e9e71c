//! The gRPC example's server: the standard `grpc.health.v1.Health` service
//! behind the layer, every call of which needs role `ops`.

use std::time::Duration;

use jwt_guard::{
    Algorithm, ConfigError, JwtLayer, RequireLayer, StandardClaims, Validator, VerifyingKey,
};
use tonic::transport::Server;
use tonic::transport::server::Router;
use tower::Layer;
use tower::layer::util::{Identity, Stack};

jwt_guard::role!(Ops = "ops");

/// What the server needs to know; `main` reads it from the environment.
pub struct Config {
    /// The HS256 secret, at least 32 bytes.
    pub secret: Vec<u8>,
    pub issuer: String,
    pub audience: String,
}

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

/// HS256 only, `iss` and `aud` required, 30 s leeway.
fn validator(config: &Config) -> Result<Validator, ConfigError> {
    Validator::builder()
        .key(VerifyingKey::hmac(Algorithm::HS256, &config.secret)?)
        .issuer(&config.issuer)
        .audience(&config.audience)
        .leeway(Duration::from_secs(30))
        .build()
}
