//! Duplicate-member detection for JSON objects.
//!
//! serde_json keeps the last of duplicate members and derived structs ignore
//! unknown ones, so neither refuses `{"sub":"alice","sub":"admin"}`. JOSE
//! (RFC 7515 §4) lets a parser refuse such objects, and this crate does, at
//! every depth: two readers of the same token must never see different claims.
//!
//! Top-level members are checked during the one parse of the header and the
//! claims. Objects nested deeper are checked by [`json_text`], in a separate
//! scan that runs only when the text has a nested object at all.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// An object member name, borrowed from the input when it has no escapes.
pub(crate) struct MemberName<'de>(pub(crate) Cow<'de, str>);

impl<'de> Deserialize<'de> for MemberName<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = MemberName<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(MemberName(Cow::Owned(v)))
            }
        }

        deserializer.deserialize_str(NameVisitor)
    }
}

/// The member names of one object seen so far.
///
/// Kept inline while few (claims sets have around ten members), so that
/// parsing an ordinary token allocates nothing for it; a hash set past
/// that, so a hostile token with thousands of members stays linear.
pub(crate) struct SeenKeys<'de> {
    few: [Cow<'de, str>; LINEAR_LIMIT],
    len: usize,
    many: Option<HashSet<Cow<'de, str>>>,
}

const LINEAR_LIMIT: usize = 16;

impl Default for SeenKeys<'_> {
    fn default() -> Self {
        Self {
            few: std::array::from_fn(|_| Cow::Borrowed("")),
            len: 0,
            many: None,
        }
    }
}

impl<'de> SeenKeys<'de> {
    /// Records `name`; false if it was already seen.
    pub(crate) fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(name);
        }
        if self.few[..self.len].contains(&name) {
            return false;
        }
        if self.len < LINEAR_LIMIT {
            self.few[self.len] = name;
            self.len += 1;
        } else {
            let mut many: HashSet<_> = self.few.iter_mut().map(std::mem::take).collect();
            many.insert(name);
            self.many = Some(many);
        }
        true
    }
}

/// Checks that `bytes` are UTF-8 (RFC 8259 §8.1; serde_json does not check
/// the strings it skips) and that no nested object repeats a member name.
pub(crate) fn json_text(bytes: &[u8]) -> Result<&str, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the token holds text that is not UTF-8")?;
    let nested = text
        .trim_start()
        .get(1..)
        .is_some_and(|rest| rest.contains('{'));
    if nested && serde_json::from_str::<Unique>(text).is_err() {
        return Err(
            "the token's JSON is malformed, repeats a member name or holds a number out of range",
        );
    }
    Ok(text)
}

/// A JSON object from `bytes`: UTF-8, and its objects, at every depth,
/// without repeated member names. For small documents read whole (a DPoP
/// proof's header and claims): it parses twice.
pub(crate) fn unique_object(
    bytes: &[u8],
) -> Result<serde_json::Map<String, serde_json::Value>, &'static str> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the JSON text is not UTF-8")?;
    serde_json::from_str::<Unique>(text)
        .map_err(|_| "the JSON text is malformed or repeats a member name")?;
    serde_json::from_str(text).map_err(|_| "the JSON text is not an object")
}

/// Any JSON value whose objects, at every depth, have unique member names,
/// read whole: every number is parsed, so one no `f64` reaches (`1e400`) is
/// refused even where nothing reads it, as any parser that reads it
/// refuses it. What a reader skips is read with this, not `IgnoredAny`
/// (which skips numbers unparsed).
pub(crate) struct Unique;

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON without duplicate member names")
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen = SeenKeys::default();
        while let Some(MemberName(name)) = map.next_key()? {
            if !seen.insert(name) {
                return Err(de::Error::custom("duplicate member"));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_found_before_and_after_switching_to_a_set() {
        let mut seen = SeenKeys::default();
        for i in 0..100 {
            assert!(seen.insert(Cow::Owned(format!("k{i}"))));
        }
        assert!(!seen.insert(Cow::Borrowed("k3")));
        assert!(!seen.insert(Cow::Borrowed("k99")));
        let mut few = SeenKeys::default();
        assert!(few.insert(Cow::Borrowed("b")));
        assert!(few.insert(Cow::Borrowed("a")));
        assert!(!few.insert(Cow::Borrowed("a")));
    }

    #[test]
    fn nested_duplicates_and_invalid_utf8_are_refused() {
        assert!(json_text(br#"{"a":{"x":1,"y":[{"z":1}]}}"#).is_ok());
        assert!(json_text(br#"{"a":{"x":1,"x":2}}"#).is_err());
        assert!(json_text(br#"{"a":[{"x":1},{"x":2,"x":3}]}"#).is_err());
        assert!(json_text(b"{\"a\":\"\xff\"}").is_err());
    }
}
