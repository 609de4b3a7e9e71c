//! What the pipeline hands out: the [`Claims`] of an authenticated request,
//! or [`Anonymous`] for one that optional authentication let through.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::claims::RegisteredClaims;
use crate::error::AuthError;
use crate::rejection::{Refusal, Rejecter};
use crate::verify::{Header, Verified};

/// The claims types this process has built authenticators (and so layers)
/// for, by name: when an extractor finds neither [`Claims`] of its type nor
/// [`Anonymous`], and no authenticator of that type exists, it names the
/// types that do, instead of saying that no layer ran. Kept here rather
/// than marked on every request, which would cost the accepted path an
/// allocation; read only on that refusal path.
pub(crate) mod layer_claims_types {
    use std::sync::{Mutex, PoisonError};

    /// At most this many names; past it the list is incomplete, and no
    /// diagnosis is made from it.
    const MAX_NAMES: usize = 64;

    /// The names, and whether some did not fit.
    struct Registry {
        names: Vec<&'static str>,
        overflowed: bool,
    }

    impl Registry {
        const fn new() -> Self {
            Self {
                names: Vec::new(),
                overflowed: false,
            }
        }

        fn register(&mut self, name: &'static str) {
            if self.names.contains(&name) {
                return;
            }
            if self.names.len() < MAX_NAMES {
                self.names.push(name);
            } else {
                self.overflowed = true;
            }
        }

        fn others_than(&self, asked: &str) -> Option<Vec<&'static str>> {
            let complete = !self.overflowed && !self.names.is_empty();
            (complete && !self.names.contains(&asked)).then(|| self.names.clone())
        }
    }

    static REGISTRY: Mutex<Registry> = Mutex::new(Registry::new());

    /// Records that an authenticator verifying `T` was built.
    pub(crate) fn register<T>() {
        REGISTRY
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .register(std::any::type_name::<T>());
    }

    /// The recorded names when they are complete and do not include
    /// `asked`: the claims types a mistaken extractor should have named.
    pub(crate) fn others_than(asked: &str) -> Option<Vec<&'static str>> {
        REGISTRY
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .others_than(asked)
    }

    #[cfg(test)]
    mod tests {
        use super::{MAX_NAMES, Registry};

        #[test]
        fn names_the_others_only_while_complete() {
            let mut registry = Registry::new();
            assert_eq!(registry.others_than("A"), None, "nothing to name yet");
            registry.register("A");
            registry.register("A");
            assert_eq!(registry.others_than("A"), None, "A has a layer");
            assert_eq!(registry.others_than("B"), Some(vec!["A"]));
            let names: Vec<&'static str> = (0..MAX_NAMES)
                .map(|i| &*Box::leak(format!("T{i}").into_boxed_str()))
                .collect();
            for name in names {
                registry.register(name);
            }
            // Past the bound the list may lack the very type asked for.
            assert_eq!(registry.others_than("B"), None);
        }
    }
}

/// The verified claims of an authenticated request: what
/// [`Authenticator::authenticate`](super::Authenticator::authenticate)
/// returns, and what [`JwtLayer`](crate::JwtLayer) puts into the request
/// extensions. Dereferences to `T`.
///
/// With the `axum` feature it is also an extractor: a handler taking
/// `Claims<T>` answers 401 when the request is anonymous, and a generic 500
/// when no `JwtLayer<T>` ran for the route, or one for another claims type
/// did: the fix, naming the types, is logged at error level, once.
///
/// Cloning is cheap: the claims are shared, never copied per request.
pub struct Claims<T> {
    verified: Arc<Verified<T>>,
    rejecter: Arc<Rejecter>,
}

impl<T> Claims<T> {
    pub(crate) fn new(verified: Arc<Verified<T>>, rejecter: Arc<Rejecter>) -> Self {
        Self { verified, rejecter }
    }

    /// The registered claims (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `sid`).
    pub fn registered(&self) -> &RegisteredClaims {
        self.verified.registered()
    }

    /// The verified header (`alg`, `kid`, `typ`).
    pub fn header(&self) -> &Header {
        self.verified.header()
    }

    /// The whole verification result.
    pub fn verified(&self) -> &Verified<T> {
        &self.verified
    }

    /// The claims, cloned out of the shared value (or moved, if unshared).
    pub fn into_inner(self) -> T
    where
        T: Clone,
    {
        Arc::unwrap_or_clone(self.verified).into_claims()
    }

    /// A refusal of this request, rendered as the pipeline that accepted it
    /// renders its own, with what logs may know of the token.
    pub(crate) fn refuse(&self, error: AuthError) -> Refusal {
        Refusal {
            error: error.with_context(self.verified.error_context()),
            rejecter: self.rejecter.clone(),
        }
    }
}

impl<T> Deref for Claims<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.verified.claims()
    }
}

impl<T> Clone for Claims<T> {
    fn clone(&self) -> Self {
        Self {
            verified: self.verified.clone(),
            rejecter: self.rejecter.clone(),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Claims<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Claims")
            .field(self.verified.claims())
            .finish()
    }
}

/// Put into the request extensions instead of [`Claims`] when optional
/// authentication let a request without a token through.
#[derive(Clone, Debug)]
pub struct Anonymous {
    rejecter: Arc<Rejecter>,
}

impl Anonymous {
    pub(crate) fn new(rejecter: Arc<Rejecter>) -> Self {
        Self { rejecter }
    }

    /// A refusal of this request, rendered as the layer that let it through
    /// renders its own.
    pub(crate) fn refuse(&self, error: AuthError) -> Refusal {
        Refusal {
            error,
            rejecter: self.rejecter.clone(),
        }
    }
}
