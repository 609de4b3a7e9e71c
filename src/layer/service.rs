use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::future::ResponseFuture;
use crate::auth::{Anonymous, Authenticator, Progress, TokenSources};
use crate::body::ResponseBody;

/// The service made by [`JwtLayer`](super::JwtLayer): authenticates, then
/// calls the inner service with [`Claims`](super::Claims) in the request
/// extensions.
pub struct JwtAuth<S, T> {
    inner: S,
    shared: Arc<Shared<T>>,
}

/// What the layer holds, built once: the pipeline, and how the transport
/// finds a credential in a request.
pub(crate) struct Shared<T> {
    pub(crate) authenticator: Authenticator<T>,
    pub(crate) sources: TokenSources,
    pub(crate) optional: bool,
    /// Only DPoP-bound tokens pass.
    pub(crate) dpop_required: bool,
}

impl<T> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtLayer")
            .field("authenticator", &self.authenticator)
            .field("sources", &self.sources)
            .field("optional", &self.optional)
            .field("dpop_required", &self.dpop_required)
            .finish()
    }
}

impl<S, T> JwtAuth<S, T> {
    pub(crate) fn new(inner: S, shared: Arc<Shared<T>>) -> Self {
        Self { inner, shared }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, consumed.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, T> Clone for JwtAuth<S, T> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug, T> fmt::Debug for JwtAuth<S, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtAuth")
            .field("inner", &self.inner)
            .field("config", &self.shared)
            .finish()
    }
}

impl<S, T, ReqB, ResB> Service<Request<ReqB>> for JwtAuth<S, T>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone,
    T: DeserializeOwned + Send + Sync + 'static,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, ReqB, T>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqB>) -> Self::Future {
        let Shared {
            authenticator,
            sources,
            optional,
            dpop_required,
        } = &*self.shared;
        let found = sources.find_in(&request);
        let rejecter = authenticator.rejecter();
        match authenticator.begin(found, *optional, *dpop_required) {
            Progress::Ready(Ok(Some(claims))) => {
                ResponseFuture::accepted(&mut self.inner, request, claims)
            }
            Progress::Ready(Ok(None)) => {
                request
                    .extensions_mut()
                    .insert(Anonymous::new(rejecter.clone()));
                ResponseFuture::anonymous(self.inner.call(request))
            }
            Progress::Ready(Err(error)) => {
                ResponseFuture::refused(rejecter.http(&error, request.headers()))
            }
            Progress::Pending(pending) => {
                // Call the service that was polled ready; leave a fresh clone behind.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::authenticating(pending, inner, request, rejecter.clone())
            }
        }
    }
}
