//! Refresh-token families: the [`RefreshStore`] trait an
//! [`Issuer`](crate::issue::Issuer) keeps its sessions in.
//!
//! A *family* is one login: every refresh token rotated from the first one
//! belongs to it, and every access token issued from those carries its id in
//! `sid`. The store keeps, per family:
//!
//! - the SHA-256 of the current refresh token, its issue instant and expiry
//!   (never the token itself);
//! - the hashes of the tokens it replaced, to recognise reuse;
//! - the `jti` and expiry of every access token issued from it, so that
//!   revoking the family revokes them too;
//! - the claims every access token of the family carries.
//!
//! [`rotate`](RefreshStore::rotate) is one atomic step: of several concurrent
//! rotations with the same token, exactly one succeeds. Presenting a token the
//! family has already replaced revokes the family, its refresh tokens and
//! its access tokens.

use std::time::{Duration, SystemTime};

use super::{BoxFuture, RevocationStore, StoreError};

/// An access token issued from a family, as the family records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct AccessRecord<'a> {
    /// The access token's `jti`.
    pub jti: &'a str,
    /// Until when revoking it must last: its `exp` plus the validator's leeway.
    pub revoke_until: SystemTime,
}

impl<'a> AccessRecord<'a> {
    /// A record of the access token `jti`, to be kept revoked until `revoke_until`.
    pub const fn new(jti: &'a str, revoke_until: SystemTime) -> Self {
        Self { jti, revoke_until }
    }
}

/// A family created at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewFamily<'a> {
    /// The subject the family belongs to.
    pub sub: &'a str,
    /// The family's id (also the access tokens' `sid`).
    pub family: &'a str,
    /// The first refresh token's hash.
    pub token_hash: &'a str,
    /// When the first refresh token was issued.
    pub issued_at: SystemTime,
    /// When the first refresh token expires.
    pub expires_at: SystemTime,
    /// The first access token.
    pub access: AccessRecord<'a>,
    /// The claims (a JSON object) every access token of the family carries.
    pub claims: &'a str,
    /// When the store may forget the family: after its refresh token and
    /// every access token from it have expired.
    pub keep_until: SystemTime,
    /// Who issued the family (an id of the issuer's `iss` and `aud`): only
    /// the same issuer may rotate it, even when several share a store.
    pub issuer: &'a str,
}

/// One use of a refresh token, to be rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation<'a> {
    /// The subject named by the presented token.
    pub sub: &'a str,
    /// The family named by the presented token.
    pub family: &'a str,
    /// The presented token's hash.
    pub presented_hash: &'a str,
    /// The replacement's hash.
    pub new_hash: &'a str,
    /// Now: the replacement's issue instant.
    pub now: SystemTime,
    /// When the replacement expires.
    pub expires_at: SystemTime,
    /// The access token issued with the replacement.
    pub access: AccessRecord<'a>,
    /// How long the token replaced last may still be presented instead of
    /// the current one (a client that lost the answer and retries); zero for
    /// none. With zero, of several concurrent rotations with one token
    /// exactly one succeeds, whatever their clocks say.
    pub grace: Duration,
    /// When the store may forget the family, after this rotation.
    pub keep_until: SystemTime,
    /// The issuer rotating: a family of another issuer is [`Rotated::Unknown`].
    pub issuer: &'a str,
    /// The most rotations a family may go through; past it the presented
    /// token is [`Rotated::Expired`] and the user logs in again. This bounds
    /// what a family record holds.
    pub max_rotations: u32,
}

/// What became of a [`Rotation`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rotated {
    /// The token was current: it is replaced, and here are the family's claims.
    Rotated {
        /// The claims (a JSON object) the new access token carries.
        claims: String,
    },
    /// The token had already been replaced: the family is now revoked.
    Reused,
    /// The family was revoked before, or its subject was logged out
    /// everywhere after this token was issued.
    Revoked,
    /// The token has expired, or its family reached its rotation limit.
    Expired,
    /// No such family, or no such token in it.
    Unknown,
}

/// Where an [`Issuer`](crate::issue::Issuer) keeps refresh-token families.
///
/// A refresh store is a [`RevocationStore`] too: revoking a family revokes
/// its access tokens there, and a subject's cut-off ("log out everywhere")
/// refuses the refresh tokens issued before it as well. [`MemoryStore`](super::MemoryStore)
/// and the Redis store implement it.
pub trait RefreshStore: RevocationStore {
    /// Records a new family and its first refresh and access tokens.
    fn create_family<'a>(
        &'a self,
        family: &'a NewFamily<'a>,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Rotates the presented token, atomically. See [`Rotated`] for the outcomes.
    ///
    /// When the presented token is the current one (or, within the grace
    /// period, the one it replaced), the replacement becomes current and the
    /// access token is recorded. When it is a token the family replaced, the
    /// family is revoked: its refresh tokens and every access token recorded
    /// in it. A token issued before its subject's cut-off is refused, and
    /// its family revoked.
    fn rotate<'a>(
        &'a self,
        rotation: &'a Rotation<'a>,
    ) -> BoxFuture<'a, Result<Rotated, StoreError>>;

    /// Revokes a family: its refresh tokens, and every access token recorded
    /// in it. Revoking an unknown or already revoked family does nothing.
    fn revoke_family<'a>(
        &'a self,
        sub: &'a str,
        family: &'a str,
    ) -> BoxFuture<'a, Result<(), StoreError>>;

    /// How long the store keeps a subject's cut-off ("log out everywhere"),
    /// if it forgets them. An [`Issuer`](crate::issue::Issuer) refuses to be
    /// built on a store that would forget a cut-off before the refresh
    /// tokens it refuses have expired.
    fn subject_retention(&self) -> Option<Duration> {
        None
    }
}
