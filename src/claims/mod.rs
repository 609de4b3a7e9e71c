//! Claims: the registered claims every token is checked against, a ready
//! [`StandardClaims`] struct, and the [`HasRoles`] trait that guards use.
//!
//! Bring your own claims type with `#[derive(Deserialize)]`, or use
//! [`StandardClaims`]. Either way the registered claims (`iss`, `sub`, `aud`,
//! `exp`, `nbf`, `iat`, `jti`, `sid`, `cnf`) are also read, strictly, into
//! [`RegisteredClaims`], in the same single parse of the payload.
//!
//! ```
//! use jwt_guard::HasRoles;
//! use serde::Deserialize;
//!
//! #[derive(Clone, Deserialize)]
//! struct MyClaims {
//!     sub: String,
//!     groups: Vec<String>,
//! }
//!
//! // Guards read roles through `HasRoles`, so any claim shape can take part.
//! impl HasRoles for MyClaims {
//!     fn has_role(&self, role: &str) -> bool {
//!         self.groups.iter().any(|g| g == role)
//!     }
//! }
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

mod diagnose;
mod mapping;
mod parse;

pub use mapping::ClaimMapping;
pub(crate) use parse::parse_claims;

/// A JWT NumericDate: seconds since the Unix epoch, with a sub-second part.
///
/// Deserializes from any JSON number (integer or fraction), serializes as an
/// integer when it has no fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NumericDate {
    micros: i64,
}

impl NumericDate {
    /// From seconds since the epoch (fractions kept to the microsecond).
    pub fn from_secs_f64(secs: f64) -> Self {
        Self {
            micros: (secs * 1_000_000.0).round() as i64,
        }
    }

    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Self { micros }
    }

    /// From whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self {
            micros: secs.saturating_mul(1_000_000),
        }
    }

    /// From a [`SystemTime`] (to the microsecond; before the epoch counts as the epoch).
    pub fn from_system_time(time: SystemTime) -> Self {
        let micros = time
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
        Self { micros }
    }

    /// The current time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn as_secs(self) -> i64 {
        self.micros.div_euclid(1_000_000)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.micros
    }

    /// As a [`SystemTime`].
    pub fn to_system_time(self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.micros.max(0) as u64)
    }

    /// This date plus `duration` (saturating).
    #[must_use]
    pub fn saturating_add(self, duration: Duration) -> Self {
        let add = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Self {
            micros: self.micros.saturating_add(add),
        }
    }

    /// This date minus `duration` (saturating).
    #[must_use]
    pub fn saturating_sub(self, duration: Duration) -> Self {
        let sub = i64::try_from(duration.as_micros()).unwrap_or(i64::MAX);
        Self {
            micros: self.micros.saturating_sub(sub),
        }
    }
}

impl Serialize for NumericDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.micros % 1_000_000 == 0 {
            serializer.serialize_i64(self.as_secs())
        } else {
            serializer.serialize_f64(self.micros as f64 / 1_000_000.0)
        }
    }
}

impl<'de> Deserialize<'de> for NumericDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DateVisitor;

        impl Visitor<'_> for DateVisitor {
            type Value = NumericDate;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a NumericDate (seconds since the epoch)")
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NumericDate, E> {
                Ok(NumericDate::from_secs(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<NumericDate, E> {
                Ok(NumericDate::from_secs(i64::try_from(v).unwrap_or(i64::MAX)))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<NumericDate, E> {
                if v.is_finite() {
                    Ok(NumericDate::from_secs_f64(v))
                } else {
                    Err(E::custom("NumericDate out of range"))
                }
            }
        }

        deserializer.deserialize_any(DateVisitor)
    }
}

/// The registered claims of a verified token, read strictly whatever the
/// application's claims type declares.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegisteredClaims {
    pub(crate) iss: Option<String>,
    pub(crate) sub: Option<String>,
    pub(crate) aud: Vec<String>,
    pub(crate) exp: Option<NumericDate>,
    pub(crate) nbf: Option<NumericDate>,
    pub(crate) iat: Option<NumericDate>,
    pub(crate) iat_us: Option<NumericDate>,
    pub(crate) jti: Option<String>,
    pub(crate) sid: Option<String>,
    pub(crate) cnf_jkt: Option<String>,
    pub(crate) derived_id: Option<String>,
}

impl RegisteredClaims {
    /// `iss`.
    pub fn issuer(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// `sub`.
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// `aud`, as a list (a single string becomes one item; absent is empty).
    pub fn audience(&self) -> &[String] {
        &self.aud
    }

    /// `exp`.
    pub fn expires_at(&self) -> Option<NumericDate> {
        self.exp
    }

    /// `nbf`.
    pub fn not_before(&self) -> Option<NumericDate> {
        self.nbf
    }

    /// `iat`.
    pub fn issued_at(&self) -> Option<NumericDate> {
        self.iat
    }

    /// `iat_us`: when the token was issued, to the microsecond. A private
    /// claim the [`Issuer`](crate::issue::Issuer) writes beside the
    /// whole-second `iat`, so that a logout everywhere tells apart the
    /// tokens issued in its own second before and after it. Verification
    /// refuses a token whose `iat_us` is not an integer within `iat`'s
    /// second.
    pub fn issued_at_micros(&self) -> Option<NumericDate> {
        self.iat_us
    }

    /// `jti`.
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// `sid`: the session the token belongs to. Tokens from an
    /// [`Issuer`](crate::issue::Issuer) carry their refresh family's id here,
    /// so that logging out ends the whole session.
    pub fn session_id(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// `cnf.jkt` (RFC 9449 §6.1): the RFC 7638 thumbprint of the key this
    /// token is bound to. A bound token is accepted only with a DPoP proof
    /// signed by that key, never as a bearer token.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.cnf_jkt.as_deref()
    }

    /// The id revocation uses: the `jti`, or for a token without one,
    /// `sha256:` followed by the SHA-256 (base64url) of its signed header and
    /// payload. Either way, revoking this id revokes this token, whatever
    /// signature it is presented with.
    pub fn token_id(&self) -> &str {
        self.jti
            .as_deref()
            .or(self.derived_id.as_deref())
            .unwrap_or_default()
    }

    /// Gives a token without a usable `jti` the id `derive` makes: an empty
    /// `jti` identifies nothing, and such a token could never be revoked on
    /// its own.
    pub(crate) fn identify_unless_jti(&mut self, derive: impl FnOnce() -> String) {
        if self.jti.as_deref().is_none_or(str::is_empty) {
            self.jti = None;
            self.derived_id = Some(derive());
        }
    }
}

/// Reads roles and permissions from a claims type, for guards.
///
/// Implement it for your own claims type to use the role guards with it.
/// [`StandardClaims`] implements it from its `roles`, `permissions` and
/// `scope` claims.
pub trait HasRoles {
    /// Whether the claims grant `role`.
    fn has_role(&self, role: &str) -> bool;

    /// Whether the claims grant `permission`. None by default.
    fn has_permission(&self, permission: &str) -> bool {
        let _ = permission;
        false
    }
}

/// The `aud` claim: one audience or several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// `"aud": "api"`.
    One(String),
    /// `"aud": ["api", "admin"]`.
    Many(Vec<String>),
}

impl Audience {
    /// The audiences, as a slice.
    pub fn as_slice(&self) -> &[String] {
        match self {
            Self::One(one) => std::slice::from_ref(one),
            Self::Many(many) => many,
        }
    }

    /// Whether `audience` is one of them.
    pub fn contains(&self, audience: &str) -> bool {
        self.as_slice().iter().any(|a| a == audience)
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::One(one) => serializer.serialize_str(one),
            Self::Many(many) => many.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AudienceVisitor;

        impl<'de> Visitor<'de> for AudienceVisitor {
            type Value = Audience;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::One(v.to_owned()))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Audience, E> {
                Ok(Audience::One(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut many = Vec::with_capacity(seq.size_hint().unwrap_or(1));
                while let Some(item) = seq.next_element()? {
                    many.push(item);
                }
                Ok(Audience::Many(many))
            }
        }

        deserializer.deserialize_any(AudienceVisitor)
    }
}

/// A ready claims struct for access tokens: the registered claims, roles,
/// permissions (`permissions` array and OAuth `scope` string), and every
/// other claim in [`extra`](Self::extra).
///
/// `sub` is required (RFC 9068 requires it of access tokens); the other
/// registered claims are optional here, and required or not by the
/// [`Validator`](crate::Validator)'s rules.
///
/// ```
/// use jwt_guard::{HasRoles, StandardClaims};
///
/// let claims: StandardClaims = serde_json::from_str(
///     r#"{"sub":"alice","roles":["admin"],"scope":"docs:read docs:write","tenant":"acme"}"#,
/// )?;
/// assert!(claims.has_role("admin"));
/// assert!(claims.has_permission("docs:write"));
/// assert_eq!(claims.extra["tenant"], "acme");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StandardClaims {
    /// Subject: who the token is about.
    pub sub: String,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<NumericDate>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<NumericDate>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<NumericDate>,
    /// Token id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// Session id: for tokens from an [`Issuer`](crate::issue::Issuer), the
    /// refresh family the token was issued from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Roles (`"roles": ["admin", "user"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Permissions (`"permissions": ["docs:write"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<String>,
    /// OAuth scope, space-separated (`"scope": "docs:read docs:write"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

// By hand rather than derived: `#[serde(flatten)]` buffers every member
// before reading any, which made parsing cost as much as the signature.
impl<'de> Deserialize<'de> for StandardClaims {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StandardClaimsVisitor)
    }
}

struct StandardClaimsVisitor;

impl<'de> Visitor<'de> for StandardClaimsVisitor {
    type Value = StandardClaims;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<StandardClaims, A::Error> {
        fn set<'de, A: de::MapAccess<'de>, T: Deserialize<'de>>(
            map: &mut A,
            slot: &mut Option<T>,
            name: &'static str,
        ) -> Result<(), A::Error> {
            if slot.is_some() {
                return Err(de::Error::duplicate_field(name));
            }
            *slot = Some(map.next_value()?);
            Ok(())
        }

        let (mut sub, mut iss, mut aud, mut exp, mut nbf, mut iat, mut jti, mut sid) =
            (None, None, None, None, None, None, None, None);
        let (mut roles, mut permissions, mut scope) = (None, None, None);
        let mut extra = serde_json::Map::new();
        while let Some(name) = map.next_key::<crate::json::MemberName<'de>>()? {
            match name.0.as_ref() {
                "sub" => set(&mut map, &mut sub, "sub")?,
                "iss" => set(&mut map, &mut iss, "iss")?,
                "aud" => set(&mut map, &mut aud, "aud")?,
                "exp" => set(&mut map, &mut exp, "exp")?,
                "nbf" => set(&mut map, &mut nbf, "nbf")?,
                "iat" => set(&mut map, &mut iat, "iat")?,
                "jti" => set(&mut map, &mut jti, "jti")?,
                "sid" => set(&mut map, &mut sid, "sid")?,
                "roles" => set(&mut map, &mut roles, "roles")?,
                "permissions" => set(&mut map, &mut permissions, "permissions")?,
                "scope" => set(&mut map, &mut scope, "scope")?,
                _ => {
                    let value = map.next_value()?;
                    if extra.insert(name.0.into_owned(), value).is_some() {
                        return Err(de::Error::custom("duplicate claim"));
                    }
                }
            }
        }
        Ok(StandardClaims {
            sub: sub.ok_or_else(|| de::Error::missing_field("sub"))?,
            iss: iss.flatten(),
            aud: aud.flatten(),
            exp: exp.flatten(),
            nbf: nbf.flatten(),
            iat: iat.flatten(),
            jti: jti.flatten(),
            sid: sid.flatten(),
            roles: roles.flatten().unwrap_or_default(),
            permissions: permissions.flatten().unwrap_or_default(),
            scope: scope.flatten(),
            extra,
        })
    }
}

impl HasRoles for StandardClaims {
    fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    fn has_permission(&self, permission: &str) -> bool {
        self.permissions.iter().any(|p| p == permission)
            || self
                .scope
                .as_deref()
                .is_some_and(|scope| scope.split(' ').any(|s| s == permission))
    }
}

impl HasRoles for serde_json::Value {
    fn has_role(&self, role: &str) -> bool {
        self.get("roles")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|roles| roles.iter().any(|r| r == role))
    }

    fn has_permission(&self, permission: &str) -> bool {
        let in_array = self
            .get("permissions")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|ps| ps.iter().any(|p| p == permission));
        in_array
            || self
                .get("scope")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|scope| scope.split(' ').any(|s| s == permission))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_date_keeps_sub_second_precision() {
        let date: NumericDate = serde_json::from_str("1700000000.123456").unwrap();
        assert_eq!(date.as_micros(), 1_700_000_000_123_456);
        assert_eq!(date.as_secs(), 1_700_000_000);
        assert_eq!(
            serde_json::to_string(&NumericDate::from_secs(5)).unwrap(),
            "5"
        );
    }

    #[test]
    fn standard_claims_round_trip_and_refuse_duplicates_and_a_missing_sub() {
        let claims: StandardClaims = serde_json::from_str(
            r#"{"sub":"alice","iss":"i","aud":["a","b"],"exp":2000000000,"nbf":1700000000.5,
                "iat":1700000000.5,"jti":"j","sid":"s","roles":["admin"],
                "permissions":["docs:write"],"scope":"read","tenant":"acme"}"#,
        )
        .unwrap();
        let again: StandardClaims =
            serde_json::from_str(&serde_json::to_string(&claims).unwrap()).unwrap();
        assert_eq!(again, claims);
        assert_eq!(claims.sid.as_deref(), Some("s"));
        assert_eq!(claims.extra["tenant"], "acme");
        for bad in [
            r#"{"iss":"i"}"#,
            r#"{"sub":"a","sub":"b"}"#,
            r#"{"sub":"a","roles":[],"roles":[]}"#,
            r#"{"sub":"a","x":1,"x":2}"#,
        ] {
            assert!(
                serde_json::from_str::<StandardClaims>(bad).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn audience_reads_a_string_or_an_array() {
        let one: Audience = serde_json::from_str(r#""api""#).unwrap();
        assert!(one.contains("api"));
        let many: Audience = serde_json::from_str(r#"["a","api"]"#).unwrap();
        assert!(many.contains("api") && !many.contains("b"));
        assert!(serde_json::from_str::<Audience>("3").is_err());
    }

    #[test]
    fn standard_claims_scope_grants_permissions_by_whole_word() {
        let claims: StandardClaims =
            serde_json::from_str(r#"{"sub":"a","scope":"docs:read docs:write"}"#).unwrap();
        assert!(claims.has_permission("docs:read"));
        assert!(!claims.has_permission("docs"));
        assert!(!claims.has_role("docs:read"));
    }
}
