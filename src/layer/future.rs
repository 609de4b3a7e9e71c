use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::Responder;
use super::service::decide;
use super::span::{AuthSpan, MakeSpan};
use crate::body::{ResponseBody, rejection_response};
use crate::error::{AuthError, ErrorContext};
use crate::observe::{Outcome, Timer};
use crate::store::{BoxFuture, StoreError, TokenStatus};

pin_project! {
    /// The response future of [`JwtAuth`](super::JwtAuth): a rejection, a
    /// pending revocation lookup followed by the inner call, a wait for a key
    /// refresh followed by a second check, or the inner call (in the
    /// request's `jwt_guard.auth` span when a subscriber wants it).
    pub struct ResponseFuture<F, S, ReqB> {
        #[pin]
        state: State<F, S, ReqB>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, ReqB> {
        // Rejections and store round trips are boxed: the common case, a
        // call of the inner service, then moves a small future.
        Reject {
            response: Option<Box<Response<Bytes>>>,
        },
        Check {
            lookup: BoxFuture<'static, Result<TokenStatus, StoreError>>,
            pending: Option<Box<Pending<S, ReqB>>>,
        },
        Retry {
            check: BoxFuture<'static, Result<http::Extensions, AuthError>>,
            pending: Option<Box<Retrying<S, ReqB>>>,
        },
        Inner {
            #[pin]
            future: F,
            span: AuthSpan,
        },
    }
}

struct Retrying<S, ReqB> {
    inner: S,
    request: Request<ReqB>,
    responder: Arc<Responder>,
    observer: Observer,
}

struct Pending<S, ReqB> {
    inner: S,
    request: Request<ReqB>,
    responder: Arc<Responder>,
    fail_open: bool,
    context: ErrorContext,
    observer: Observer,
}

/// What the layer reports once a deferred decision is made: its latency and
/// outcome, and for an accepted request the span to call the inner service in.
pub(crate) struct Observer {
    pub(crate) timer: Timer,
    pub(crate) make_span: MakeSpan,
}

impl Observer {
    fn accepted(self, extensions: &http::Extensions) -> AuthSpan {
        self.timer.decided(Outcome::Accepted);
        (self.make_span)(extensions)
    }

    fn rejected(self) {
        self.timer.decided(Outcome::Rejected);
    }
}

/// Calls the inner service inside `span`, if any: routing and whatever the
/// inner service does before returning its future belong to the request too.
pub(crate) fn call_in<S: Service<Request<ReqB>>, ReqB>(
    inner: &mut S,
    request: Request<ReqB>,
    span: &AuthSpan,
) -> S::Future {
    let _entered = span.as_deref().map(tracing::Span::enter);
    inner.call(request)
}

impl<F, S, ReqB> ResponseFuture<F, S, ReqB> {
    pub(crate) fn reject(response: Response<Bytes>) -> Self {
        Self {
            state: State::Reject {
                response: Some(Box::new(response)),
            },
        }
    }

    pub(crate) fn inner(future: F, span: AuthSpan) -> Self {
        Self {
            state: State::Inner { future, span },
        }
    }

    pub(crate) fn check(
        lookup: BoxFuture<'static, Result<TokenStatus, StoreError>>,
        inner: S,
        request: Request<ReqB>,
        responder: Arc<Responder>,
        fail_open: bool,
        context: ErrorContext,
        observer: Observer,
    ) -> Self {
        Self {
            state: State::Check {
                lookup,
                pending: Some(Box::new(Pending {
                    inner,
                    request,
                    responder,
                    fail_open,
                    context,
                    observer,
                })),
            },
        }
    }
}

impl<F, S, ReqB> ResponseFuture<F, S, ReqB> {
    /// Waits for `check` (a key refresh, then the whole check again), then
    /// calls `inner` with the extensions it yields, or rejects.
    pub(crate) fn retry(
        check: BoxFuture<'static, Result<http::Extensions, AuthError>>,
        inner: S,
        request: Request<ReqB>,
        responder: Arc<Responder>,
        observer: Observer,
    ) -> Self {
        Self {
            state: State::Retry {
                check,
                pending: Some(Box::new(Retrying {
                    inner,
                    request,
                    responder,
                    observer,
                })),
            },
        }
    }
}

impl<F, S, ReqB> std::fmt::Debug for ResponseFuture<F, S, ReqB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, S, ReqB, ResB, E> Future for ResponseFuture<F, S, ReqB>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    S: Service<Request<ReqB>, Response = Response<ResB>, Error = E, Future = F>,
{
    type Output = Result<Response<ResponseBody<ResB>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut state = self.as_mut().project().state;
            match state.as_mut().project() {
                StateProj::Reject { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(rejection_response(*response)));
                }
                StateProj::Check { lookup, pending } => {
                    let status = ready!(lookup.as_mut().poll(cx));
                    let Pending {
                        mut inner,
                        request,
                        responder,
                        fail_open,
                        context,
                        observer,
                    } = *pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match decide(status, fail_open) {
                        Ok(()) => {
                            let span = observer.accepted(request.extensions());
                            let future = call_in(&mut inner, request, &span);
                            state.set(State::Inner { future, span });
                        }
                        Err(error) => {
                            observer.rejected();
                            state.set(State::Reject {
                                response: Some(Box::new(
                                    responder
                                        .respond(&error.with_context(context), request.headers()),
                                )),
                            });
                        }
                    }
                }
                StateProj::Retry { check, pending } => {
                    let outcome = ready!(check.as_mut().poll(cx));
                    let Retrying {
                        mut inner,
                        mut request,
                        responder,
                        observer,
                    } = *pending
                        .take()
                        .expect("ResponseFuture polled after completion");
                    match outcome {
                        Ok(extensions) => {
                            request.extensions_mut().extend(extensions);
                            let span = observer.accepted(request.extensions());
                            let future = call_in(&mut inner, request, &span);
                            state.set(State::Inner { future, span });
                        }
                        Err(error) => {
                            observer.rejected();
                            state.set(State::Reject {
                                response: Some(Box::new(
                                    responder.respond(&error, request.headers()),
                                )),
                            });
                        }
                    }
                }
                StateProj::Inner { future, span } => {
                    let _entered = span.as_deref().map(tracing::Span::enter);
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
            }
        }
    }
}
