//! One-pass claims parsing.
//!
//! The payload is parsed once: the application's claims type `T` is
//! deserialized through a wrapper that watches every member going by. It
//! refuses duplicate members, and takes a copy of the registered claims
//! (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti`, `sid`, `cnf`, and the
//! issuer's private `iat_us`) with strict type checks, whatever `T` itself declares.
//! `T` sees exactly the JSON it would have seen.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, Deserialize as _, DeserializeOwned, DeserializeSeed, Deserializer, IgnoredAny,
    IntoDeserializer, MapAccess, Visitor,
};
use serde_json::Value;

use super::{NumericDate, RegisteredClaims};
use crate::error::{AuthError, AuthErrorKind};
use crate::json::{MemberName, SeenKeys, Unique};

/// Parses `payload` into `T` and the registered claims, in one pass.
pub(crate) fn parse_claims<T: DeserializeOwned>(
    payload: &[u8],
) -> Result<(T, RegisteredClaims), AuthError> {
    let text = crate::json::json_text(payload)
        .map_err(|description| AuthError::new(AuthErrorKind::Malformed, description))?;
    let mut state = TeeState::default();
    let mut de = serde_json::Deserializer::from_str(text);
    let result = T::deserialize(TeeDeserializer {
        inner: &mut de,
        state: &mut state,
    })
    .and_then(|claims| de.end().map(|()| claims));
    match (result, state.error) {
        (_, Some(error)) => Err(error),
        (Ok(claims), None) => {
            issued_at_micros_within_iat(&state.registered)?;
            Ok((claims, state.registered))
        }
        (Err(error), None) if !state.saw_object || error.is_syntax() || error.is_eof() => {
            tracing::trace!(%error, "claims are not JSON");
            Err(AuthError::new(
                AuthErrorKind::Malformed,
                "the token payload is not a JSON object",
            ))
        }
        (Err(error), None) => {
            // serde's message may quote claim values: trace only, never debug.
            tracing::trace!(%error, "claims do not match the claims type");
            Err(shape_error::<T>(super::diagnose::claims_value(
                text.as_bytes(),
            )))
        }
    }
}

/// Claims that do not deserialize into `T`, refused naming the claim and
/// the type expected (never the value) when `claims` shows which.
pub(super) fn shape_error<T: DeserializeOwned>(claims: Option<Value>) -> AuthError {
    let description = match claims.and_then(|claims| super::diagnose::mismatch::<T>(&claims)) {
        Some(why) => format!("the token's claims do not have the expected shape: {why}"),
        None => "the token's claims do not have the expected shape".to_owned(),
    };
    AuthError::new(AuthErrorKind::InvalidClaims, description)
}

/// `iat_us` must fall within `iat`'s second: it only refines `iat`, and a
/// later one would move the token past a logout everywhere.
fn issued_at_micros_within_iat(registered: &RegisteredClaims) -> Result<(), AuthError> {
    match (registered.iat_us, registered.iat) {
        (None, _) => Ok(()),
        (Some(micros), Some(iat)) if micros.as_secs() == iat.as_secs() => Ok(()),
        (Some(_), _) => Err(invalid_claim(
            Registered::IatMicros,
            "must fall within the second of `iat`",
        )),
    }
}

#[derive(Default)]
struct TeeState {
    registered: RegisteredClaims,
    saw_object: bool,
    error: Option<AuthError>,
}

impl TeeState {
    /// Records the first error and returns a serde error that stops parsing.
    fn fail<E: de::Error>(&mut self, error: AuthError) -> E {
        let message = error.description().to_owned();
        self.error.get_or_insert(error);
        E::custom(message)
    }
}

struct TeeDeserializer<'s, D> {
    inner: D,
    state: &'s mut TeeState,
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for TeeDeserializer<'_, D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.inner.deserialize_map(TeeVisitor {
            visitor,
            state: self.state,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

struct TeeVisitor<'s, V> {
    visitor: V,
    state: &'s mut TeeState,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for TeeVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object of claims")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.state.saw_object = true;
        let mut access = TeeMapAccess {
            inner: map,
            state: self.state,
            seen: SeenKeys::default(),
            registered_seen: 0,
            current: None,
        };
        let value = self.visitor.visit_map(&mut access)?;
        // A visitor may stop before the end; the rest must still be checked,
        // or a duplicate or a later `nbf` could slip past.
        while access.next_key_seed(PhantomData::<IgnoredAny>)?.is_some() {
            access.next_value_seed(PhantomData::<Unique>)?;
        }
        Ok(value)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Registered {
    Iss,
    Sub,
    Aud,
    Exp,
    Nbf,
    Iat,
    IatMicros,
    Jti,
    Sid,
    Cnf,
}

impl Registered {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "iss" => Self::Iss,
            "sub" => Self::Sub,
            "aud" => Self::Aud,
            "exp" => Self::Exp,
            "nbf" => Self::Nbf,
            "iat" => Self::Iat,
            "iat_us" => Self::IatMicros,
            "jti" => Self::Jti,
            "sid" => Self::Sid,
            "cnf" => Self::Cnf,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Iss => "iss",
            Self::Sub => "sub",
            Self::Aud => "aud",
            Self::Exp => "exp",
            Self::Nbf => "nbf",
            Self::Iat => "iat",
            Self::IatMicros => "iat_us",
            Self::Jti => "jti",
            Self::Sid => "sid",
            Self::Cnf => "cnf",
        }
    }
}

struct TeeMapAccess<'s, 'de, A> {
    inner: A,
    state: &'s mut TeeState,
    seen: SeenKeys<'de>,
    /// The registered claims seen so far, one bit each.
    registered_seen: u16,
    current: Option<Registered>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for TeeMapAccess<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let Some(MemberName(name)) = self.inner.next_key::<MemberName<'de>>()? else {
            return Ok(None);
        };
        // Registered names are told apart by a bit each, the others by name.
        self.current = Registered::from_name(&name);
        let repeated = match self.current {
            Some(claim) => {
                let bit = 1 << claim as u16;
                let repeated = self.registered_seen & bit != 0;
                self.registered_seen |= bit;
                repeated
            }
            None => !self.seen.insert(name.clone()),
        };
        if repeated {
            return Err(self.state.fail(AuthError::new(
                AuthErrorKind::Malformed,
                "the token's claims repeat a member name",
            )));
        }
        // Borrowed names stay borrowed for the claims type too (serde's
        // `Cow` deserializer would hand it a copy of each).
        match name {
            Cow::Borrowed(name) => seed
                .deserialize(de::value::BorrowedStrDeserializer::new(name))
                .map(Some),
            Cow::Owned(name) => seed.deserialize(name.into_deserializer()).map(Some),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<S::Value, Self::Error> {
        let Some(claim) = self.current.take() else {
            return self.inner.next_value_seed(Strict(seed));
        };
        let value: Captured<'de> = self.inner.next_value()?;
        if let Err(error) = record(&mut self.state.registered, claim, &value) {
            return Err(self.state.fail(error));
        }
        seed.deserialize(value).map_err(de::Error::custom)
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A member's value as the claims type reads it, except that what the
/// type skips (its unknown members, through `IgnoredAny`, which leaves
/// numbers unparsed) is read whole all the same: a number no `f64` reaches
/// is refused there too, as `jsonwebtoken` and every parser that reads it
/// refuse it (found by the differential fuzz target).
struct Strict<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Strict<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(StrictDeserializer(deserializer))
    }
}

struct StrictDeserializer<D>(D);

macro_rules! forward_with_visitor {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.0.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StrictDeserializer<D> {
    type Error = D::Error;

    forward_with_visitor! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_unit_struct(name, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_newtype_struct(name, visitor)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple(len, visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_tuple_struct(name, len, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_struct(name, fields, visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        Unique::deserialize(self.0)?;
        visitor.visit_unit()
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// The largest time claim accepted: 9999-12-31T23:59:59Z. Anything later is
/// not a date a real issuer writes, and would overflow time arithmetic.
const MAX_NUMERIC_DATE: f64 = 253_402_300_799.0;
/// The same, in microseconds (for `iat_us`).
const MAX_NUMERIC_DATE_MICROS: i64 = 253_402_300_799_999_999;

fn invalid_claim(claim: Registered, what: &str) -> AuthError {
    AuthError::new(
        AuthErrorKind::InvalidClaim,
        format!("the `{}` claim {what}", claim.name()),
    )
}

fn record(
    registered: &mut RegisteredClaims,
    claim: Registered,
    value: &Captured<'_>,
) -> Result<(), AuthError> {
    let string = || match value {
        Captured::Str(s) => Ok(String::from(s.as_ref())),
        _ => Err(invalid_claim(claim, "must be a string")),
    };
    let date = || {
        let secs = match *value {
            Captured::U64(n) => n as f64,
            Captured::I64(n) => n as f64,
            Captured::F64(n) => n,
            _ => return Err(invalid_claim(claim, "must be a number")),
        };
        if secs.is_finite() && (0.0..=MAX_NUMERIC_DATE).contains(&secs) {
            Ok(NumericDate::from_secs_f64(secs))
        } else {
            Err(invalid_claim(claim, "is out of range"))
        }
    };
    match claim {
        Registered::Iss => registered.iss = Some(string()?),
        Registered::Sub => registered.sub = Some(string()?),
        Registered::Jti => registered.jti = Some(string()?),
        Registered::Sid => registered.sid = Some(string()?),
        // RFC 7800's confirmation: only `jkt` (RFC 9449) is read; other
        // methods (`x5t#S256`, `jwk`) bind to what this crate cannot check.
        Registered::Cnf => {
            let Captured::Other(Value::Object(members)) = value else {
                return Err(invalid_claim(claim, "must be an object"));
            };
            registered.cnf_jkt = match members.get("jkt") {
                None => None,
                Some(Value::String(jkt)) if !jkt.is_empty() => Some(jkt.clone()),
                Some(_) => {
                    return Err(invalid_claim(claim, "has a `jkt` that is not a thumbprint"));
                }
            };
        }
        Registered::Exp => registered.exp = Some(date()?),
        Registered::Nbf => registered.nbf = Some(date()?),
        Registered::Iat => registered.iat = Some(date()?),
        Registered::IatMicros => {
            let micros = match *value {
                Captured::U64(n) => i64::try_from(n).ok(),
                Captured::I64(n) => Some(n),
                _ => None,
            };
            registered.iat_us = match micros {
                Some(micros) if (0..=MAX_NUMERIC_DATE_MICROS).contains(&micros) => {
                    Some(NumericDate::from_micros(micros))
                }
                Some(_) => return Err(invalid_claim(claim, "is out of range")),
                None => return Err(invalid_claim(claim, "must be an integer")),
            };
        }
        Registered::Aud => {
            registered.aud = match value {
                Captured::Str(s) => vec![String::from(s.as_ref())],
                Captured::Other(Value::Array(items)) => items
                    .iter()
                    .map(|item| match item {
                        Value::String(s) => Ok(s.clone()),
                        _ => Err(invalid_claim(claim, "must hold only strings")),
                    })
                    .collect::<Result<_, _>>()?,
                _ => {
                    return Err(invalid_claim(
                        claim,
                        "must be a string or an array of strings",
                    ));
                }
            };
        }
    }
    Ok(())
}

/// A registered claim's value as the claims type will see it: strings
/// borrowed from the payload when they have no escapes, numbers as parsed,
/// anything else as a JSON value. Capturing it costs no allocation for
/// the usual strings and numbers.
enum Captured<'de> {
    Str(Cow<'de, str>),
    U64(u64),
    I64(i64),
    F64(f64),
    Other(Value),
}

impl<'de> de::Deserialize<'de> for Captured<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CapturedVisitor;

        impl<'de> Visitor<'de> for CapturedVisitor {
            type Value = Captured<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Captured::Str(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Captured::Str(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Captured::Str(Cow::Owned(v)))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Captured::U64(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Captured::I64(v))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Captured::F64(v))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Captured::Other(Value::Bool(v)))
            }

            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Captured::Other(Value::Null))
            }

            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let value = Value::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Captured::Other(value))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let value = Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Captured::Other(value))
            }
        }

        deserializer.deserialize_any(CapturedVisitor)
    }
}

/// Hands the captured value to the claims type as a `serde_json::Value`
/// would: `Option`s see `Some`, newtypes their content, enums their
/// variant name.
impl<'de> Deserializer<'de> for Captured<'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Self::Str(Cow::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Self::Str(Cow::Owned(s)) => visitor.visit_string(s),
            Self::U64(n) => visitor.visit_u64(n),
            Self::I64(n) => visitor.visit_i64(n),
            Self::F64(n) => visitor.visit_f64(n),
            Self::Other(value) => value.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self {
            Self::Other(value) => value.deserialize_option(visitor),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self {
            Self::Other(value) => value.deserialize_newtype_struct(name, visitor),
            other => visitor.visit_newtype_struct(other),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let value = match self {
            Self::Other(value) => value,
            Self::Str(s) => Value::String(s.into_owned()),
            Self::U64(n) => Value::from(n),
            Self::I64(n) => Value::from(n),
            Self::F64(n) => Value::from(n),
        };
        value.deserialize_enum(name, variants, visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    struct Only {
        sub: String,
    }

    #[test]
    fn registered_claims_are_captured_even_when_the_type_ignores_them() {
        let (claims, registered) = parse_claims::<Only>(
            br#"{"sub":"alice","exp":2000000000,"iat":1700000000.25,"aud":["a","b"],"x":{"y":1}}"#,
        )
        .unwrap();
        assert_eq!(claims.sub, "alice");
        assert_eq!(registered.sub(), Some("alice"));
        assert_eq!(registered.audience(), ["a", "b"]);
        assert_eq!(registered.iat.unwrap().as_micros(), 1_700_000_000_250_000);
    }

    #[test]
    fn duplicate_members_are_refused_even_unknown_ones() {
        let error = parse_claims::<Only>(br#"{"sub":"a","x":1,"x":2}"#).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Malformed);
        let error = parse_claims::<Value>(br#"{"sub":"a","sub":"b"}"#).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Malformed);
    }

    #[test]
    fn string_exp_and_absurd_exp_are_refused() {
        for payload in [
            &br#"{"sub":"a","exp":"2000000000"}"#[..],
            br#"{"sub":"a","exp":2.001e206}"#,
            br#"{"sub":"a","exp":-1}"#,
            br#"{"sub":"a","nbf":true}"#,
            br#"{"sub":"a","sid":1}"#,
            br#"{"sub":"a","jti":["x"]}"#,
        ] {
            let error = parse_claims::<Only>(payload).unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::InvalidClaim);
        }
    }

    #[test]
    fn the_dpop_key_binding_is_read_from_cnf_strictly() {
        let (_, registered) =
            parse_claims::<Only>(br#"{"sub":"a","cnf":{"jkt":"0ZcOCORZNYy"}}"#).unwrap();
        assert_eq!(registered.dpop_jkt(), Some("0ZcOCORZNYy"));
        // Another confirmation method binds to nothing this crate checks.
        let (_, registered) = parse_claims::<Only>(
            br#"{"sub":"a","cnf":{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}"#,
        )
        .unwrap();
        assert_eq!(registered.dpop_jkt(), None);
        for payload in [
            &br#"{"sub":"a","cnf":"0ZcOCORZNYy"}"#[..],
            br#"{"sub":"a","cnf":{"jkt":1}}"#,
            br#"{"sub":"a","cnf":{"jkt":""}}"#,
            br#"{"sub":"a","cnf":null}"#,
        ] {
            let error = parse_claims::<Only>(payload).unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::InvalidClaim, "{payload:?}");
        }
        for payload in [
            &br#"{"sub":"a","cnf":{"jkt":"x"},"cnf":{"jkt":"y"}}"#[..],
            br#"{"sub":"a","cnf":{"jkt":"x","jkt":"y"}}"#,
        ] {
            let error = parse_claims::<Only>(payload).unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::Malformed, "{payload:?}");
        }
    }

    #[test]
    fn issued_at_micros_is_read_and_must_fall_within_the_second_of_iat() {
        let (_, registered) =
            parse_claims::<Only>(br#"{"sub":"a","iat":1700000000,"iat_us":1700000000999999}"#)
                .unwrap();
        assert_eq!(
            registered.issued_at_micros().unwrap().as_micros(),
            1_700_000_000_999_999
        );
        let (_, registered) = parse_claims::<Only>(br#"{"sub":"a","iat":1700000000}"#).unwrap();
        assert_eq!(registered.issued_at_micros(), None);
        for (payload, why) in [
            (
                &br#"{"sub":"a","iat":1700000000,"iat_us":1700000001000000}"#[..],
                "must fall within the second of `iat`",
            ),
            (
                br#"{"sub":"a","iat":1700000000,"iat_us":1699999999999999}"#,
                "must fall within the second of `iat`",
            ),
            (
                br#"{"sub":"a","iat_us":1700000000000000}"#,
                "must fall within the second of `iat`",
            ),
            (
                br#"{"sub":"a","iat":1700000000,"iat_us":1700000000000000.5}"#,
                "must be an integer",
            ),
            (
                br#"{"sub":"a","iat":1700000000,"iat_us":"1700000000000000"}"#,
                "must be an integer",
            ),
            (br#"{"sub":"a","iat":0,"iat_us":-1}"#, "is out of range"),
        ] {
            let error = parse_claims::<Only>(payload).unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::InvalidClaim);
            assert_eq!(error.description(), format!("the `iat_us` claim {why}"));
        }
    }

    #[test]
    fn payload_that_is_not_an_object_is_malformed() {
        for payload in [&b"[1]"[..], b"\"x\"", b"{", b"{} x"] {
            let error = parse_claims::<Value>(payload).unwrap_err();
            assert_eq!(error.kind(), AuthErrorKind::Malformed);
        }
    }

    #[test]
    fn type_mismatch_is_invalid_claims() {
        let error = parse_claims::<Only>(br#"{"other":1}"#).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::InvalidClaims);
    }

    #[test]
    fn registered_claims_reach_options_newtypes_and_enums_as_from_json() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Subject(String);
        #[derive(Deserialize, Debug, PartialEq)]
        #[serde(rename_all = "lowercase")]
        enum Issuer {
            Internal,
        }
        #[derive(Deserialize, Debug)]
        struct Shapes {
            sub: Option<Subject>,
            iss: Issuer,
            exp: Option<u64>,
            nbf: Option<f64>,
            jti: Option<String>,
        }
        let payload =
            br#"{"sub":"al\u0069ce","iss":"internal","exp":2000000000,"nbf":1.5,"jti":"x"}"#;
        let (typed, registered) = parse_claims::<Shapes>(payload).unwrap();
        assert_eq!(typed.sub, Some(Subject("alice".into())));
        assert_eq!(typed.iss, Issuer::Internal);
        assert_eq!(typed.exp, Some(2_000_000_000));
        assert_eq!(typed.nbf, Some(1.5));
        assert_eq!(typed.jti.as_deref(), Some("x"));
        assert_eq!(registered.sub(), Some("alice"));
        let value = serde_json::from_slice::<Shapes>(payload).unwrap();
        assert_eq!(value.sub, typed.sub);
    }

    #[test]
    fn the_claims_type_sees_registered_claims_with_their_json_types() {
        #[derive(Deserialize)]
        struct Typed {
            exp: u64,
            aud: Vec<String>,
        }
        let (typed, _) = parse_claims::<Typed>(br#"{"exp":2000000000,"aud":["x"]}"#).unwrap();
        assert_eq!(typed.exp, 2_000_000_000);
        assert_eq!(typed.aud, ["x"]);
    }
}
