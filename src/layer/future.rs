use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::span::{AuthSpan, auth_span};
use crate::auth::Claims;
use crate::body::ResponseBody;
use crate::error::AuthError;
use crate::rejection::Rejecter;
use crate::store::BoxFuture;

pin_project! {
    /// The response future of [`JwtAuth`](super::JwtAuth): waiting for the
    /// authentication pipeline (a store round trip or a key refresh), then
    /// calling the inner service (in the request's `jwt_guard.auth` span when
    /// a subscriber wants it), or refusing.
    pub struct ResponseFuture<F, S, ReqB, T> {
        #[pin]
        state: State<F, S, ReqB, T>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, S, ReqB, T> {
        // Boxed: the common case, a call of the inner service, then moves a
        // small future.
        Authenticating {
            pending: BoxFuture<'static, Result<Claims<T>, AuthError>>,
            call: Option<Box<Deferred<S, ReqB>>>,
        },
        Calling {
            #[pin]
            future: F,
            span: AuthSpan,
        },
        Refused {
            response: Option<Box<Response<Bytes>>>,
        },
    }
}

/// The call to make once the pipeline has decided.
struct Deferred<S, ReqB> {
    inner: S,
    request: Request<ReqB>,
    rejecter: Arc<Rejecter>,
}

impl<F, S, ReqB, T> ResponseFuture<F, S, ReqB, T>
where
    S: Service<Request<ReqB>, Future = F>,
    T: Send + Sync + 'static,
{
    /// Calls `inner` with `claims` in the request, inside the request's
    /// span: routing and whatever the inner service does before returning
    /// its future belong to the request too.
    pub(crate) fn accepted(inner: &mut S, mut request: Request<ReqB>, claims: Claims<T>) -> Self {
        let span = auth_span(claims.verified());
        request.extensions_mut().insert(claims);
        let future = {
            let _entered = span.as_deref().map(tracing::Span::enter);
            inner.call(request)
        };
        Self {
            state: State::Calling { future, span },
        }
    }

    pub(crate) fn anonymous(future: F) -> Self {
        Self {
            state: State::Calling { future, span: None },
        }
    }

    pub(crate) fn refused(response: Response<Bytes>) -> Self {
        Self {
            state: State::Refused {
                response: Some(Box::new(response)),
            },
        }
    }

    /// Waits for the pipeline, then calls `inner` (the service that was
    /// polled ready) or refuses.
    pub(crate) fn authenticating(
        pending: BoxFuture<'static, Result<Claims<T>, AuthError>>,
        inner: S,
        request: Request<ReqB>,
        rejecter: Arc<Rejecter>,
    ) -> Self {
        Self {
            state: State::Authenticating {
                pending,
                call: Some(Box::new(Deferred {
                    inner,
                    request,
                    rejecter,
                })),
            },
        }
    }
}

impl<F, S, ReqB, T> std::fmt::Debug for ResponseFuture<F, S, ReqB, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, S, ReqB, ResB, E, T> Future for ResponseFuture<F, S, ReqB, T>
where
    F: Future<Output = Result<Response<ResB>, E>>,
    S: Service<Request<ReqB>, Response = Response<ResB>, Error = E, Future = F>,
    T: Send + Sync + 'static,
{
    type Output = Result<Response<ResponseBody<ResB>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut state = self.as_mut().project().state;
            match state.as_mut().project() {
                StateProj::Authenticating { pending, call } => {
                    let decision = ready!(pending.as_mut().poll(cx));
                    let Deferred {
                        mut inner,
                        request,
                        rejecter,
                    } = *call.take().expect("ResponseFuture polled after completion");
                    let next = match decision {
                        Ok(claims) => Self::accepted(&mut inner, request, claims),
                        Err(error) => Self::refused(rejecter.http(&error, request.headers())),
                    };
                    state.set(next.state);
                }
                StateProj::Calling { future, span } => {
                    let _entered = span.as_deref().map(tracing::Span::enter);
                    let response = ready!(future.poll(cx))?;
                    return Poll::Ready(Ok(response.map(ResponseBody::inner)));
                }
                StateProj::Refused { response } => {
                    let response = response
                        .take()
                        .expect("ResponseFuture polled after completion");
                    return Poll::Ready(Ok(response.map(ResponseBody::rejection)));
                }
            }
        }
    }
}
