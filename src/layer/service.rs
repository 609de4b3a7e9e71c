use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use serde::de::DeserializeOwned;
use tower_service::Service;

use super::future::{Observer, ResponseFuture, call_in};
use super::layer::Shared;
use super::span::{auth_span, span_from_extensions};
use super::{Anonymous, Claims};
use crate::body::ResponseBody;
use crate::claims::NumericDate;
use crate::error::{AuthError, AuthErrorKind};
use crate::observe::{self, Outcome, Timer};
use crate::store::{BoxFuture, Lookup, StoreError, TokenStatus};
use crate::verify::{Refusal, Verified};

/// The service made by [`JwtLayer`](super::JwtLayer): authenticates, then
/// calls the inner service with [`Claims`] in the request extensions.
pub struct JwtAuth<S, T> {
    inner: S,
    shared: Arc<Shared<T>>,
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
    type Future = ResponseFuture<S::Future, S, ReqB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqB>) -> Self::Future {
        let timer = Timer::start();
        let shared = &*self.shared;
        let verified = match shared.authenticate(request.headers(), request.uri().query()) {
            Ok(Some(verified)) => verified,
            Ok(None) => {
                timer.decided(Outcome::Anonymous);
                request.extensions_mut().insert(Anonymous {
                    responder: shared.responder.clone(),
                });
                return ResponseFuture::inner(self.inner.call(request), None);
            }
            Err(Refusal {
                error,
                refresh: Some(refresh),
            }) => {
                if let Some(retry) = self.retry_after_refresh(&request, refresh) {
                    let clone = self.inner.clone();
                    let inner = std::mem::replace(&mut self.inner, clone);
                    return ResponseFuture::retry(
                        retry,
                        inner,
                        request,
                        shared.responder.clone(),
                        Observer {
                            timer,
                            make_span: span_from_extensions::<T>,
                        },
                    );
                }
                timer.decided(Outcome::Rejected);
                return ResponseFuture::reject(shared.responder.respond(&error, request.headers()));
            }
            Err(Refusal { error, .. }) => {
                timer.decided(Outcome::Rejected);
                return ResponseFuture::reject(shared.responder.respond(&error, request.headers()));
            }
        };
        let lookup = shared.store.check(&verified.registered().token_ref());
        let context = || verified.error_context();
        request.extensions_mut().insert(Claims {
            verified: verified.clone(),
            responder: shared.responder.clone(),
        });
        match lookup {
            Lookup::Ready(status) => match decide(status, shared.fail_open) {
                Ok(()) => {
                    timer.decided(Outcome::Accepted);
                    let span = auth_span(&verified);
                    ResponseFuture::inner(call_in(&mut self.inner, request, &span), span)
                }
                Err(error) => {
                    timer.decided(Outcome::Rejected);
                    ResponseFuture::reject(
                        shared
                            .responder
                            .respond(&error.with_context(context()), request.headers()),
                    )
                }
            },
            Lookup::Pending(lookup) => {
                // Call the service that was polled ready; leave a fresh clone behind.
                let clone = self.inner.clone();
                let inner = std::mem::replace(&mut self.inner, clone);
                ResponseFuture::check(
                    lookup,
                    inner,
                    request,
                    shared.responder.clone(),
                    shared.fail_open,
                    context(),
                    Observer {
                        timer,
                        make_span: span_from_extensions::<T>,
                    },
                )
            }
        }
    }
}

impl<S, T: DeserializeOwned + Send + Sync + 'static> JwtAuth<S, T> {
    /// For a token whose `kid` was unknown while its key source refreshes:
    /// the whole check again once `refresh` is over (it is bounded by the
    /// source's fetch timeout), resolving to the request extensions to add.
    fn retry_after_refresh<ReqB>(
        &self,
        request: &Request<ReqB>,
        refresh: BoxFuture<'static, ()>,
    ) -> Option<BoxFuture<'static, Result<http::Extensions, AuthError>>> {
        let shared = self.shared.clone();
        let token = shared
            .sources
            .find(request.headers(), request.uri().query())
            .ok()??
            .to_string();
        Some(Box::pin(async move {
            refresh.await;
            // Once only: a `kid` still unknown now is refused.
            let verified = Arc::new(shared.validator.validate::<T>(&token)?);
            if let Some(cache) = &shared.cache {
                cache.insert(&token, verified.clone());
            }
            let status = match shared.store.check(&verified.registered().token_ref()) {
                Lookup::Ready(status) => status,
                Lookup::Pending(lookup) => lookup.await,
            };
            decide(status, shared.fail_open)
                .map_err(|error| error.with_context(verified.error_context()))?;
            let mut extensions = http::Extensions::new();
            extensions.insert(Claims {
                verified,
                responder: shared.responder.clone(),
            });
            Ok(extensions)
        }))
    }
}

impl<T: DeserializeOwned + Send + Sync + 'static> Shared<T> {
    /// Finds and verifies the request's token: `Ok(None)` for an anonymous
    /// request in optional mode.
    fn authenticate(
        &self,
        headers: &http::HeaderMap,
        query: Option<&str>,
    ) -> Result<Option<Arc<Verified<T>>>, Refusal> {
        let Some(token) = self.sources.find(headers, query)? else {
            return if self.optional {
                Ok(None)
            } else {
                Err(AuthError::missing_token().into())
            };
        };
        // Length first: nothing, not even the cache's hash, reads an oversized token.
        self.validator.check_length(&token)?;
        let Some(cache) = &self.cache else {
            return Ok(Some(Arc::new(self.validator.validate_or_refresh(&token)?)));
        };
        // A hit verified with keys since replaced is verified again: the
        // key that signed it may have been withdrawn.
        if let Some(hit) = cache
            .get(&token)
            .filter(|hit| self.validator.is_current(hit))
        {
            return match self
                .validator
                .check_time(hit.registered(), NumericDate::now())
            {
                Ok(()) => Ok(Some(hit)),
                Err(error) => {
                    cache.remove(&token);
                    Err(error.with_context(hit.error_context()).into())
                }
            };
        }
        let verified = Arc::new(self.validator.validate_or_refresh(&token)?);
        cache.insert(&token, verified.clone());
        Ok(Some(verified))
    }
}

/// What a revocation answer means for the request.
pub(crate) fn decide(
    status: Result<TokenStatus, StoreError>,
    fail_open: bool,
) -> Result<(), AuthError> {
    if let Err(error) = &status {
        observe::store_error(error.kind());
    }
    match status {
        Ok(TokenStatus::Active) => Ok(()),
        Ok(TokenStatus::Revoked) => Err(AuthError::new(
            AuthErrorKind::Revoked,
            "the token has been revoked",
        )),
        Err(error) if fail_open => {
            warn_fail_open(&error);
            Ok(())
        }
        Err(error) => {
            tracing::trace!(%error, "revocation store failed");
            Err(AuthError::new(
                AuthErrorKind::StoreUnavailable,
                "revocation status is unavailable; retry later",
            ))
        }
    }
}

/// Logs a fail-open pass at warn, at most once a second: an outage must be
/// visible without flooding the logs with one line per request.
fn warn_fail_open(error: &StoreError) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST.swap(now, Ordering::Relaxed) != now {
        tracing::warn!(%error, "revocation store failed; letting verified tokens through (fail-open)");
    }
}
