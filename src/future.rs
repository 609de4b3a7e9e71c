//! [`BoxFuture`], in a leaf module: the stores, verification and key sources
//! all return it, and none of them should import another just for it.

use std::future::Future;
use std::pin::Pin;

/// A boxed, `Send` future, as returned by the
/// [`RevocationStore`](crate::store::RevocationStore) methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
