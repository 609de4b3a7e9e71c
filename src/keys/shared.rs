//! [`SharedKeys`]: a key set that can be replaced while validators use it.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use arc_swap::{ArcSwapOption, Guard};

use crate::future::BoxFuture;

use super::KeySet;

/// What a key source does when a token names a `kid` it does not know:
/// perhaps start a refresh, and return a future that ends when the refresh
/// in flight (if any) is over, bounded in time by the source.
pub(super) type UnknownKidHook = dyn Fn() -> Option<BoxFuture<'static, ()>> + Send + Sync;

/// A handle to a key set that can be swapped at runtime, for key rotation.
///
/// Cheap to clone: every clone shares the same set. Validators built with
/// [`ValidatorBuilder::shared_keys`](crate::ValidatorBuilder::shared_keys)
/// verify each token against the current snapshot; reading it is lock-free
/// (an atomic load), and [`replace`](Self::replace) swaps the whole set
/// atomically, so a token is never checked against half of an old set and
/// half of a new one.
///
/// A shared set may be empty (see [`empty`](Self::empty)): every token is then
/// refused as [`KeysUnavailable`](crate::AuthErrorKind::KeysUnavailable)
/// (503 with `Retry-After`: no verdict on the token, which may verify once
/// the set is loaded).
/// `RemoteJwks` (`keys::RemoteJwks`, feature `jwks`) keeps one
/// current from an identity provider.
///
/// ```
/// use jwt_guard::{Algorithm, KeySet, SharedKeys, Validator, VerifyingKey};
///
/// # fn main() -> Result<(), jwt_guard::ConfigError> {
/// let old = VerifyingKey::hmac(Algorithm::HS256, b"the-old-secret-of-at-least-32-bytes!")?
///     .with_kid("2024");
/// let keys = SharedKeys::new(KeySet::new([old.clone()])?);
/// let validator = Validator::builder().shared_keys(keys.clone()).build()?;
///
/// // Later: rotate. Every validator sharing `keys` sees the new set at once.
/// let new = VerifyingKey::hmac(Algorithm::HS256, b"the-new-secret-of-at-least-32-bytes!")?
///     .with_kid("2025");
/// keys.replace(KeySet::new([old, new])?);
/// assert_eq!(validator.keys().map(|k| k.len()), Some(2));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct SharedKeys {
    inner: Arc<Inner>,
}

struct Inner {
    keys: ArcSwapOption<KeySet>,
    /// Bumped after every replacement, so that results derived from an older
    /// set (cached verifications) can tell they are stale.
    generation: AtomicU64,
    on_unknown_kid: Option<Box<UnknownKidHook>>,
}

impl fmt::Debug for SharedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.inner.keys.load();
        f.debug_struct("SharedKeys")
            .field("keys", &keys.as_deref().map_or(0, KeySet::len))
            .field("generation", &self.generation())
            .field(
                "refreshes_on_unknown_kid",
                &self.inner.on_unknown_kid.is_some(),
            )
            .finish()
    }
}

impl SharedKeys {
    /// A shared set holding `keys`.
    pub fn new(keys: KeySet) -> Self {
        Self::with(Some(Arc::new(keys)), None)
    }

    /// A shared set holding no key yet: every token is refused until
    /// [`replace`](Self::replace) gives it keys.
    pub fn empty() -> Self {
        Self::with(None, None)
    }

    /// An empty set whose validators call `hook` on an unknown `kid`.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(super) fn with_unknown_kid_hook(hook: Box<UnknownKidHook>) -> Self {
        Self::with(None, Some(hook))
    }

    fn with(keys: Option<Arc<KeySet>>, on_unknown_kid: Option<Box<UnknownKidHook>>) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys: ArcSwapOption::new(keys),
                generation: AtomicU64::new(0),
                on_unknown_kid,
            }),
        }
    }

    /// A snapshot of the current set: `None` while the set is empty. The
    /// snapshot does not change when the set is replaced afterwards.
    pub fn load(&self) -> Option<Arc<KeySet>> {
        self.inner.keys.load_full()
    }

    /// Replaces the whole set atomically. Tokens being verified finish with
    /// the set they started with; every later one uses `keys`.
    pub fn replace(&self, keys: KeySet) {
        // Store first, then bump: a reader that sees the new generation is
        // sure to see the new keys too.
        self.inner.keys.store(Some(Arc::new(keys)));
        self.inner.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current set without touching its reference count: the hot path.
    pub(crate) fn guard(&self) -> Guard<Option<Arc<KeySet>>> {
        self.inner.keys.load()
    }

    /// How many times the set was replaced.
    pub(crate) fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// Tells the source of the keys, if any, that a token named an unknown
    /// `kid`. Returns a future that ends when the refresh this started (or
    /// found in flight) is over, or `None` when no refresh will come.
    pub(crate) fn unknown_kid(&self) -> Option<BoxFuture<'static, ()>> {
        self.inner.on_unknown_kid.as_ref().and_then(|hook| hook())
    }

    /// A handle that does not keep the set alive, for a background task that
    /// should stop once nobody uses the set any more.
    #[cfg_attr(not(feature = "jwks"), allow(dead_code))]
    pub(super) fn downgrade(&self) -> WeakSharedKeys {
        WeakSharedKeys(Arc::downgrade(&self.inner))
    }
}

/// A [`SharedKeys`] that does not keep the set alive.
#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
pub(super) struct WeakSharedKeys(Weak<Inner>);

#[cfg_attr(not(feature = "jwks"), allow(dead_code))]
impl WeakSharedKeys {
    pub(super) fn upgrade(&self) -> Option<SharedKeys> {
        self.0.upgrade().map(|inner| SharedKeys { inner })
    }
}
