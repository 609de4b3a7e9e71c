use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Response};
use serde::de::DeserializeOwned;
use tower_layer::Layer;

use super::service::{JwtAuth, Shared};
use crate::auth::{Authenticator, AuthenticatorBuilder, TokenSources};
use crate::claims::StandardClaims;
use crate::dpop::DpopVerifier;
use crate::error::AuthError;
use crate::rejection::{DEFAULT_REALM, DpopChallenge, Rejecter, RejectionHandler};
use crate::store::{RevocationStore, Revoker};
use crate::verify::Validator;

/// A Tower layer that authenticates requests with JWTs. See the
/// [module docs](crate::layer).
///
/// `T` is the claims type handlers receive; it defaults to [`StandardClaims`].
/// Cloning is cheap: the configuration is built once and shared.
#[must_use]
pub struct JwtLayer<T = StandardClaims> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for JwtLayer<T> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> fmt::Debug for JwtLayer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt(f)
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> JwtLayer<T> {
    /// A layer with the default settings: token required, in-memory
    /// revocation store, token cache on.
    pub fn new(validator: Validator) -> Self {
        Self::builder(validator).build()
    }

    /// Starts configuring a layer.
    pub fn builder(validator: Validator) -> JwtLayerBuilder<T> {
        JwtLayerBuilder {
            authenticator: Authenticator::builder(validator),
            sources: TokenSources::default(),
            optional: false,
            realm: DEFAULT_REALM.to_owned(),
            custom: None,
            dpop: None,
            dpop_required: false,
        }
    }
}

impl<T> JwtLayer<T> {
    /// The layer's authentication pipeline, to authenticate tokens that
    /// arrive some other way (a WebSocket message, a Socket.IO handshake)
    /// with the same cache, keys and store, and to record the outcome alike.
    pub fn authenticator(&self) -> &Authenticator<T> {
        &self.shared.authenticator
    }

    /// The revocation store the layer consults, to revoke through.
    pub fn store(&self) -> &Arc<dyn RevocationStore> {
        self.shared.authenticator.store()
    }

    /// A handle to revoke tokens through the layer's store, with expiries
    /// that cover the validator's leeway.
    pub fn revoker(&self) -> Revoker {
        self.shared.authenticator.revoker()
    }

    /// The layer's validator.
    pub fn validator(&self) -> &Validator {
        self.shared.authenticator.validator()
    }
}

impl<S, T> Layer<S> for JwtLayer<T> {
    type Service = JwtAuth<S, T>;

    fn layer(&self, inner: S) -> Self::Service {
        JwtAuth::new(inner, self.shared.clone())
    }
}

/// Configures a [`JwtLayer`].
#[must_use]
pub struct JwtLayerBuilder<T> {
    authenticator: AuthenticatorBuilder<T>,
    sources: TokenSources,
    optional: bool,
    realm: String,
    custom: Option<Arc<RejectionHandler>>,
    dpop: Option<DpopVerifier>,
    dpop_required: bool,
}

impl<T> fmt::Debug for JwtLayerBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtLayerBuilder")
            .field("authenticator", &self.authenticator)
            .field("sources", &self.sources)
            .field("optional", &self.optional)
            .field("realm", &self.realm)
            .field("dpop", &self.dpop)
            .field("dpop_required", &self.dpop_required)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> JwtLayerBuilder<T> {
    /// The revocation store to consult after a token verifies (default: a
    /// new [`MemoryStore`](crate::store::MemoryStore), reachable through
    /// [`JwtLayer::store`]).
    ///
    /// Each layer built without a store gets its own: layers that must agree
    /// on revocations (a required and an optional one, say) need the same
    /// store, given here or with [`shared_store`](Self::shared_store).
    pub fn store(mut self, store: impl RevocationStore) -> Self {
        self.authenticator = self.authenticator.store(store);
        self
    }

    /// As [`store`](Self::store), for a store already shared behind an `Arc`.
    pub fn shared_store(mut self, store: Arc<dyn RevocationStore>) -> Self {
        self.authenticator = self.authenticator.shared_store(store);
        self
    }

    /// Optional authentication: a request without a token passes as
    /// [`Anonymous`](super::Anonymous). A request with a bad token is still
    /// refused.
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    /// Also reads the token from the cookie `name` (after the `Authorization` header).
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.sources.cookie = Some(name.into());
        self
    }

    /// Also reads the token from the query parameter `name` (last). Off by
    /// default: URLs end up in logs. Meant for WebSocket handshakes; enable it
    /// on those routes only.
    pub fn query_param(mut self, name: impl Into<String>) -> Self {
        self.sources.query = Some(name.into());
        self
    }

    /// The `realm` of the `WWW-Authenticate` challenge (default `"api"`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// When the revocation store cannot answer, let verified tokens through
    /// (logged at warn) instead of answering 503. Off by default: fail-closed.
    pub fn fail_open(mut self, fail_open: bool) -> Self {
        self.authenticator = self.authenticator.fail_open(fail_open);
        self
    }

    /// Replaces the HTTP rejection responses of the layer and of the guards
    /// and extractors behind it. The handler gets the error and the request
    /// headers; the error is added to the response extensions. (The gRPC
    /// helpers' `tonic::Status` is rendered from the error itself.)
    pub fn on_rejection<F>(mut self, handler: F) -> Self
    where
        F: Fn(&AuthError, &HeaderMap) -> Response<Bytes> + Send + Sync + 'static,
    {
        self.custom = Some(Arc::new(handler));
        self
    }

    /// The memory budget of the cache of verified tokens, in bytes (default
    /// 16 MiB; 0 turns the cache off). A cache hit skips the signature and
    /// the parse, but the time claims and revocation are checked on every
    /// request all the same.
    pub fn token_cache_bytes(mut self, bytes: usize) -> Self {
        self.authenticator = self.authenticator.token_cache_bytes(bytes);
        self
    }

    /// Takes DPoP-bound tokens (RFC 9449) beside bearer tokens:
    /// `Authorization: DPoP <token>` with a `DPoP: <proof>` header, the
    /// proof checked by `verifier` against this request and recorded in
    /// the store, so that it is accepted once on every instance sharing it
    /// (one store round trip per DPoP request, in mirror mode too). A proof
    /// problem answers 401 `invalid_dpop_proof` with a `WWW-Authenticate:
    /// DPoP algs="…"` challenge. Without it, the DPoP scheme is not taken.
    /// Either way, a DPoP-bound token sent as a bearer token is refused.
    ///
    /// The URI a proof must name is the request's: its scheme (`http`
    /// unless the request URI is absolute), its `Host` (`:authority` on
    /// HTTP/2) and its path as received, before an axum `nest` stripped
    /// it. Behind a proxy or a TLS terminator, set
    /// [`dpop_public_origin`](Self::dpop_public_origin).
    ///
    /// Around a tonic server, a gRPC call is an HTTP/2 `POST` of
    /// `/package.Service/Method`: a proof names `htm` `POST` and `htu`
    /// `http://<authority>/package.Service/Method` (`https` over TLS), and
    /// travels in `dpop` metadata beside `authorization: DPoP <token>`.
    pub fn dpop(mut self, verifier: DpopVerifier) -> Self {
        self.dpop = Some(verifier.clone());
        self.authenticator = self.authenticator.dpop(verifier);
        self.sources.dpop.get_or_insert_default();
        self
    }

    /// With [`dpop`](Self::dpop): refuse bearer tokens, only DPoP-bound
    /// tokens pass (default: both).
    pub fn dpop_required(mut self, required: bool) -> Self {
        self.dpop_required = required;
        self
    }

    /// With [`dpop`](Self::dpop): the scheme and authority clients reach
    /// this service at (`https`, `api.example`), which proofs must name,
    /// whatever the request says of itself. It overrides
    /// [`dpop_trusted_proxies`](Self::dpop_trusted_proxies).
    pub fn dpop_public_origin(
        mut self,
        scheme: http::uri::Scheme,
        authority: http::uri::Authority,
    ) -> Self {
        self.sources.dpop.get_or_insert_default().origin.public =
            Some((scheme.to_string(), authority.to_string()));
        self
    }

    /// With [`dpop`](Self::dpop): for a request from one of these proxies,
    /// the URI a proof must name takes its scheme from `X-Forwarded-Proto`
    /// and its authority from `X-Forwarded-Host` (each the request's own
    /// when the header is absent). From any other address, and without
    /// this setting, those headers are ignored: a client could set them
    /// to make a proof made for another service pass here.
    ///
    /// The proxy's address is the connection's, from axum's
    /// `ConnectInfo`: serve with
    /// `into_make_service_with_connect_info::<SocketAddr>()`, or no
    /// request counts as coming from a proxy. A proxy must set each header
    /// to one value: a list (a proxy appending to a client's header) is
    /// refused as `invalid_request`.
    ///
    /// ```
    /// use jwt_guard::dpop::{DpopVerifier, ProxyNetwork};
    /// use jwt_guard::{JwtLayer, StandardClaims, Validator};
    ///
    /// fn layer(validator: Validator) -> Result<JwtLayer, jwt_guard::ConfigError> {
    ///     Ok(JwtLayer::<StandardClaims>::builder(validator)
    ///         .dpop(DpopVerifier::default())
    ///         .dpop_trusted_proxies(["10.0.0.0/8".parse::<ProxyNetwork>()?])
    ///         .build())
    /// }
    /// ```
    pub fn dpop_trusted_proxies(
        mut self,
        proxies: impl IntoIterator<Item = crate::dpop::ProxyNetwork>,
    ) -> Self {
        self.sources
            .dpop
            .get_or_insert_default()
            .origin
            .trusted_proxies
            .extend(proxies);
        self
    }

    /// Builds the layer.
    pub fn build(self) -> JwtLayer<T> {
        let dpop = self.dpop.as_ref().map(|verifier| DpopChallenge {
            algs: verifier.challenge_algs(),
            required: self.dpop_required,
            nonces: verifier.nonces().cloned(),
        });
        let rejecter = Arc::new(Rejecter::new(self.realm, self.custom, dpop));
        let mut sources = self.sources;
        if self.dpop.is_none() {
            sources.dpop = None;
        }
        JwtLayer {
            shared: Arc::new(Shared {
                authenticator: self.authenticator.build_with(rejecter),
                sources,
                optional: self.optional,
                dpop_required: self.dpop.is_some() && self.dpop_required,
            }),
        }
    }
}
