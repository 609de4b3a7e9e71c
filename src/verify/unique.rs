//! Duplicate-member detection for JSON objects.
//!
//! serde_json keeps the last of duplicate members and derived structs ignore
//! unknown ones, so neither refuses `{"sub":"alice","sub":"admin"}`. JOSE
//! (RFC 7515 §4) lets a parser refuse such objects, and this crate does: two
//! readers of the same token must never see different claims.

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
/// A short list while small (claims sets have around ten members), a hash set
/// past that, so a hostile token with thousands of members stays linear.
#[derive(Default)]
pub(crate) struct SeenKeys<'de> {
    few: Vec<Cow<'de, str>>,
    many: Option<HashSet<Cow<'de, str>>>,
}

const LINEAR_LIMIT: usize = 24;

impl<'de> SeenKeys<'de> {
    /// Records `name`; false if it was already seen.
    pub(crate) fn insert(&mut self, name: Cow<'de, str>) -> bool {
        if let Some(many) = &mut self.many {
            return many.insert(name);
        }
        if self.few.contains(&name) {
            return false;
        }
        if self.few.len() < LINEAR_LIMIT {
            self.few.push(name);
        } else {
            let mut many: HashSet<_> = self.few.drain(..).collect();
            many.insert(name);
            self.many = Some(many);
        }
        true
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
        assert!(few.insert(Cow::Borrowed("a")));
        assert!(!few.insert(Cow::Borrowed("a")));
    }
}
