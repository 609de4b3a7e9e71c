//! A bounded cache of verified tokens.
//!
//! Verifying a token (base64url, signature, JSON) costs a few microseconds;
//! most clients send the same token many times. The cache maps the exact
//! token text to its verification result, so a repeat skips the signature
//! and the parse. What can change between two requests is still checked on
//! every hit by the service: the time claims and revocation. Only tokens that
//! passed every rule are cached; a token differing by one byte is a miss.

use std::sync::Arc;

use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::verify::Verified;

/// 16 MiB.
pub(crate) const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// A rough per-entry cost beyond the token text: the Arc, the registered
/// claims, the cache's own bookkeeping.
const ENTRY_OVERHEAD: u64 = 512;

/// Parsed claims take more room than their base64 text: JSON values are
/// boxed and padded. A generous factor keeps the budget a real bound.
const PARSED_FACTOR: u64 = 8;

#[derive(Clone, Copy)]
pub(crate) struct TokenWeighter;

impl<T> Weighter<Box<str>, Arc<Verified<T>>> for TokenWeighter {
    fn weight(&self, token: &Box<str>, _: &Arc<Verified<T>>) -> u64 {
        token.len() as u64 * PARSED_FACTOR + ENTRY_OVERHEAD
    }
}

pub(crate) struct TokenCache<T> {
    cache: Cache<Box<str>, Arc<Verified<T>>, TokenWeighter>,
}

impl<T> TokenCache<T> {
    pub(crate) fn new(bytes: usize) -> Self {
        let estimated_items = (bytes / 1024).max(16);
        Self {
            cache: Cache::with_weighter(estimated_items, bytes as u64, TokenWeighter),
        }
    }

    pub(crate) fn get(&self, token: &str) -> Option<Arc<Verified<T>>> {
        self.cache.get(token)
    }

    pub(crate) fn insert(&self, token: &str, verified: Arc<Verified<T>>) {
        self.cache.insert(token.into(), verified);
    }

    pub(crate) fn remove(&self, token: &str) {
        self.cache.remove(token);
    }
}
