//! Why claims do not fit the application's claims type, in words that name
//! the claim and the type expected, never a value.
//!
//! serde's own messages quote what they found (`invalid type: string
//! "admin", expected a sequence`), and a claim's value is the token's
//! content. So when the claims do not deserialize, they are deserialized
//! once more, from the already parsed JSON, through a deserializer of this
//! module whose error type records the problem as a kind ("a string") and
//! the path of the claim (`address.city`, `roles[1]`). This runs only on
//! that error path.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, Expected, IntoDeserializer,
    MapAccess, SeqAccess, Unexpected, VariantAccess, Visitor,
};
use serde_json::{Map, Value};

/// Why `value` does not deserialize into `T`: `the `role` claim: expected a
/// sequence, found a string`. `None` when it does (the first failure came
/// from something this deserializer does differently, e.g. a custom
/// `Deserialize` that looks at the input's exact text).
pub(crate) fn mismatch<T: DeserializeOwned>(value: &Value) -> Option<String> {
    let error = T::deserialize(ValueDeserializer::top(value)).err()?;
    let path = error
        .path
        .iter()
        .rev()
        .map(String::as_str)
        .collect::<String>();
    Some(match path.strip_prefix('.') {
        Some(path) => format!("the `{path}` claim: {}", error.problem),
        None if path.is_empty() => format!("the claims: {}", error.problem),
        None => format!("the `{path}` claim: {}", error.problem),
    })
}

/// What went wrong, without the value, and where (innermost first, as the
/// error travels out).
#[derive(Debug)]
struct Mismatch {
    path: Vec<String>,
    problem: String,
}

impl Mismatch {
    fn new(problem: String) -> Self {
        Self {
            path: Vec::new(),
            problem,
        }
    }

    /// Adds the member or element the error came out of.
    fn within(mut self, segment: String) -> Self {
        self.path.push(segment);
        self
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem)
    }
}

impl std::error::Error for Mismatch {}

/// What kind of thing was found, never the thing.
fn kind(unexpected: &Unexpected<'_>) -> &'static str {
    match unexpected {
        Unexpected::Bool(_) => "a boolean",
        Unexpected::Unsigned(_) | Unexpected::Signed(_) => "an integer",
        Unexpected::Float(_) => "a number with a fraction",
        Unexpected::Char(_) => "a character",
        Unexpected::Str(_) => "a string",
        Unexpected::Bytes(_) => "bytes",
        Unexpected::Unit => "null",
        Unexpected::Option => "an optional value",
        Unexpected::NewtypeStruct => "a newtype struct",
        Unexpected::Seq => "an array",
        Unexpected::Map => "an object",
        Unexpected::Enum => "an enum",
        Unexpected::UnitVariant
        | Unexpected::NewtypeVariant
        | Unexpected::TupleVariant
        | Unexpected::StructVariant => "an enum variant",
        Unexpected::Other(_) => "another value",
    }
}

impl de::Error for Mismatch {
    /// A custom message may hold anything, values included: not repeated.
    fn custom<T: fmt::Display>(_: T) -> Self {
        Self::new("does not have the expected shape".to_owned())
    }

    fn invalid_type(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::new(format!("expected {expected}, found {}", kind(&unexpected)))
    }

    fn invalid_value(unexpected: Unexpected<'_>, expected: &dyn Expected) -> Self {
        Self::new(format!(
            "expected {expected}, found {} it cannot hold",
            kind(&unexpected)
        ))
    }

    fn invalid_length(len: usize, expected: &dyn Expected) -> Self {
        Self::new(format!("expected {expected}, found {len} items"))
    }

    fn unknown_variant(_: &str, expected: &'static [&'static str]) -> Self {
        Self::new(format!("expected one of {}", quoted(expected)))
    }

    fn unknown_field(field: &str, _: &'static [&'static str]) -> Self {
        Self::new("is not a field of the claims type".to_owned()).within(segment(field, true))
    }

    fn missing_field(field: &'static str) -> Self {
        Self::new("is missing".to_owned()).within(format!(".{field}"))
    }

    fn duplicate_field(field: &'static str) -> Self {
        Self::new("appears twice".to_owned()).within(format!(".{field}"))
    }
}

/// A member's place in a path: its name when it names a field of the
/// claims type, or a top-level claim whose name is plain (letters, digits,
/// `_-.:/@`, at most 64 of them); `*` otherwise, as a map's keys are data
/// and a name could hold anything, line breaks included.
fn segment(name: &str, shown: bool) -> String {
    let plain = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:/@".contains(&b));
    if shown && plain {
        format!(".{name}")
    } else {
        ".*".to_owned()
    }
}

/// Which member names a path may show.
#[derive(Clone, Copy)]
enum Names {
    /// The claims object itself: claim names are the schema.
    Claims,
    /// A struct of the claims type: its declared fields.
    Fields(&'static [&'static str]),
    /// Anything else (a map's keys are data): none.
    Hidden,
}

impl Names {
    fn shows(self, name: &str) -> bool {
        match self {
            Self::Claims => true,
            Self::Fields(fields) => fields.contains(&name),
            Self::Hidden => false,
        }
    }
}

fn quoted(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A deserializer over parsed JSON whose errors are [`Mismatch`]es; `top`
/// for the claims object itself.
struct ValueDeserializer<'a> {
    value: &'a Value,
    top: bool,
}

impl<'a> ValueDeserializer<'a> {
    fn top(value: &'a Value) -> Self {
        Self { value, top: true }
    }

    fn inner(value: &'a Value) -> Self {
        Self { value, top: false }
    }

    fn members<'de, V: Visitor<'de>>(
        members: &'a Map<String, Value>,
        names: Names,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        visitor.visit_map(Members {
            members: members.iter(),
            current: None,
            names,
        })
    }
}

impl<'de> Deserializer<'de> for ValueDeserializer<'_> {
    type Error = Mismatch;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => visitor.visit_seq(Items {
                items: items.iter(),
                index: 0,
            }),
            Value::Object(members) => {
                let names = if self.top {
                    Names::Claims
                } else {
                    Names::Hidden
                };
                Self::members(members, names, visitor)
            }
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::Object(members) => {
                let names = if self.top {
                    Names::Claims
                } else {
                    Names::Fields(fields)
                };
                Self::members(members, names, visitor)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        match self.value {
            Value::String(variant) => visitor.visit_enum(Variant {
                name: variant,
                value: None,
            }),
            // The variant's name is the token's, not the type's: not in
            // the path.
            Value::Object(members) if members.len() == 1 => {
                let (name, value) = members.iter().next().expect("one member");
                visitor.visit_enum(Variant {
                    name,
                    value: Some(value),
                })
            }
            other => Err(de::Error::invalid_type(unexpected(other), &"an enum")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map
        identifier ignored_any
    }
}

fn unexpected(value: &Value) -> Unexpected<'static> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(_) => Unexpected::Bool(false),
        Value::Number(_) => Unexpected::Signed(0),
        Value::String(_) => Unexpected::Str(""),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

struct Items<'a> {
    items: std::slice::Iter<'a, Value>,
    index: usize,
}

impl<'de> SeqAccess<'de> for Items<'_> {
    type Error = Mismatch;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Mismatch> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(ValueDeserializer::inner(item))
            .map(Some)
            .map_err(|e| e.within(format!("[{index}]")))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Members<'a> {
    members: serde_json::map::Iter<'a>,
    current: Option<(&'a String, &'a Value)>,
    names: Names,
}

impl<'de> MapAccess<'de> for Members<'_> {
    type Error = Mismatch;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Mismatch> {
        let Some((name, value)) = self.members.next() else {
            return Ok(None);
        };
        self.current = Some((name, value));
        let key: de::value::StrDeserializer<'_, Mismatch> = name.as_str().into_deserializer();
        seed.deserialize(key).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Mismatch> {
        let (name, value) = self
            .current
            .take()
            .expect("serde asks for a value after its key");
        seed.deserialize(ValueDeserializer::inner(value))
            .map_err(|e| e.within(segment(name, self.names.shows(name))))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}

struct Variant<'a> {
    name: &'a str,
    value: Option<&'a Value>,
}

impl<'de, 'a> EnumAccess<'de> for Variant<'a> {
    type Error = Mismatch;
    type Variant = VariantValue<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), Mismatch> {
        let name: de::value::StrDeserializer<'_, Mismatch> = self.name.into_deserializer();
        Ok((seed.deserialize(name)?, VariantValue(self.value)))
    }
}

/// What an enum variant holds: nothing (`"gold"`), or the member's value
/// (`{"gold": …}`).
struct VariantValue<'a>(Option<&'a Value>);

impl<'de> VariantAccess<'de> for VariantValue<'_> {
    type Error = Mismatch;

    fn unit_variant(self) -> Result<(), Mismatch> {
        match self.0 {
            None | Some(Value::Null) => Ok(()),
            Some(other) => Err(de::Error::invalid_type(
                unexpected(other),
                &"a unit variant",
            )),
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Mismatch> {
        match self.0 {
            Some(value) => seed.deserialize(ValueDeserializer::inner(value)),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, Mismatch> {
        match self.0 {
            Some(value) => ValueDeserializer::inner(value).deserialize_seq(visitor),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Mismatch> {
        match self.0 {
            Some(value) => ValueDeserializer::inner(value).deserialize_map(visitor),
            None => Err(de::Error::invalid_type(
                Unexpected::UnitVariant,
                &"a struct variant",
            )),
        }
    }
}

/// The claims as JSON, for [`mismatch`]: the payload already parsed once.
pub(crate) fn claims_value(payload: &[u8]) -> Option<Value> {
    serde_json::from_slice::<Map<String, Value>>(payload)
        .ok()
        .map(Value::Object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only whether they deserialize matters")]
    struct GyanGhar {
        id: String,
        email: String,
        role: Vec<String>,
        address: Address,
        level: Level,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code, reason = "only whether they deserialize matters")]
    struct Address {
        city: String,
        pin: u32,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Level {
        Gold,
        Silver,
    }

    fn good() -> Value {
        json!({
            "id": "u1", "email": "a@b.c", "role": ["admin"],
            "address": {"city": "Pune", "pin": 411001}, "level": "gold",
        })
    }

    #[test]
    fn claims_that_fit_have_no_mismatch() {
        assert_eq!(mismatch::<GyanGhar>(&good()), None);
    }

    #[test]
    fn the_claim_and_the_expected_type_are_named_never_the_value() {
        for (edit, want) in [
            (
                json!({"role": "secret-admin"}),
                "the `role` claim: expected a sequence, found a string",
            ),
            (
                json!({"role": ["ok", 987_654]}),
                "the `role[1]` claim: expected a string, found an integer",
            ),
            (
                json!({"address": {"city": "Pune", "pin": "secret-pin"}}),
                "the `address.pin` claim: expected u32, found a string",
            ),
            (
                json!({"address": {"city": "Pune", "pin": -123_456}}),
                "the `address.pin` claim: expected u32, found an integer it cannot hold",
            ),
            (
                json!({"level": "secret-platinum"}),
                "the `level` claim: expected one of `gold`, `silver`",
            ),
            (
                json!({"id": null}),
                "the `id` claim: expected a string, found null",
            ),
        ] {
            let mut claims = good();
            for (name, value) in edit.as_object().unwrap() {
                claims[name] = value.clone();
            }
            let said = mismatch::<GyanGhar>(&claims).unwrap();
            assert_eq!(said, want);
            assert!(!said.contains("secret"), "{said}");
            assert!(!said.contains("987"), "{said}");
            assert!(!said.contains("123"), "{said}");
        }
    }

    #[test]
    fn names_from_the_token_stay_out_of_the_path() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code, reason = "only whether it deserializes matters")]
        struct Tenants {
            level: Level,
            tenants: std::collections::HashMap<String, u32>,
        }
        let claims = json!({"level": {"secret-platinum": 1}, "tenants": {}});
        let said = mismatch::<Tenants>(&claims).unwrap();
        assert!(said.starts_with("the `level` claim: "), "{said}");
        let claims = json!({"level": "gold", "tenants": {"secret-tenant": "x"}});
        assert_eq!(
            mismatch::<Tenants>(&claims).unwrap(),
            "the `tenants.*` claim: expected u32, found a string"
        );
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code, reason = "only whether it deserializes matters")]
        struct Strict {
            sub: String,
        }
        assert_eq!(
            mismatch::<Strict>(&json!({"sub": "a", "bad\nname": 1})).unwrap(),
            "the `*` claim: is not a field of the claims type"
        );
    }

    #[test]
    fn a_missing_claim_is_named_with_its_path() {
        let mut claims = good();
        claims.as_object_mut().unwrap().remove("email");
        assert_eq!(
            mismatch::<GyanGhar>(&claims).unwrap(),
            "the `email` claim: is missing"
        );
        let mut claims = good();
        claims["address"].as_object_mut().unwrap().remove("city");
        assert_eq!(
            mismatch::<GyanGhar>(&claims).unwrap(),
            "the `address.city` claim: is missing"
        );
    }

    #[test]
    fn unknown_fields_of_a_strict_type_are_named() {
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code, reason = "only whether it deserializes matters")]
        struct Strict {
            sub: String,
        }
        assert_eq!(
            mismatch::<Strict>(&json!({"sub": "a", "tenant": "secret"})).unwrap(),
            "the `tenant` claim: is not a field of the claims type"
        );
    }
}
