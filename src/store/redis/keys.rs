//! Key and message layout.
//!
//! ```text
//! {prefix}{<base64url(sub)>}:t:<jti>   value: the token's expiry (Unix s), EXAT the same
//! {prefix}{<base64url(sub)>}:c         value: the cut-off (Unix µs), EXAT cut-off + retention
//! {prefix}{<base64url(sub)>}:f:<family>  hash: a refresh family (see `families.rs`)
//! {prefix}l:<key>                  value: attempts in the throttle window, PEXPIRE the window
//! channel {prefix}events               messages "t|<exp s>|<jti>" and "s|<cut-off µs>|<sub>",
//!                                      prefixed "x<stream id>|" when also logged
//! {prefix}log                          stream: the same messages (field `e`), trimmed by time
//! ```
//!
//! The revocation log exists on a single server and behind Sentinel: a
//! script may only write keys of one cluster slot, and a revocation's slot
//! is its subject's. On a Cluster the mirror reloads in full instead (a log
//! per slot, read per master, is the layout that would keep the rule).
//!
//! The subject, encoded so that it holds no brace, is the Redis Cluster hash
//! tag: a token's key and its subject's cut-off live in one slot, so one
//! `MGET` reads both, on a single node or a cluster alike.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
    channel: String,
    log: String,
}

/// Where revoking scripts log: the log's key and retention, or nowhere
/// (an empty key) on a Cluster or when turned off.
#[derive(Debug, Clone)]
pub(crate) struct RevocationLog {
    key: String,
    retention_ms: u64,
}

impl RevocationLog {
    pub(crate) fn new(keys: &Keys, retention: std::time::Duration, possible: bool) -> Self {
        let on = possible && !retention.is_zero();
        Self {
            key: if on {
                keys.log().to_owned()
            } else {
                String::new()
            },
            retention_ms: u64::try_from(retention.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// Whether revocations are logged.
    pub(crate) fn is_on(&self) -> bool {
        !self.key.is_empty()
    }

    /// Appends the script arguments `publish` takes after the message.
    pub(crate) fn args(&self, invocation: &mut redis::ScriptInvocation<'_>) {
        invocation.arg(&self.key).arg(self.retention_ms);
    }
}

/// A key read back during a resynchronisation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    Token { jti: String },
    Cutoff { sub: String },
}

impl Keys {
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            channel: format!("{prefix}events"),
            log: format!("{prefix}log"),
        }
    }

    /// The revocation log (a stream), where the topology allows one.
    pub(crate) fn log(&self) -> &str {
        &self.log
    }

    pub(crate) fn channel(&self) -> &str {
        &self.channel
    }

    pub(crate) fn scan_pattern(&self) -> String {
        // SCAN's glob treats `*?[]` specially; the prefix is checked to hold none.
        format!("{}{{*}}:*", self.prefix)
    }

    fn tag(sub: Option<&str>) -> String {
        URL_SAFE_NO_PAD.encode(sub.unwrap_or_default())
    }

    pub(crate) fn token(&self, sub: Option<&str>, jti: &str) -> String {
        format!("{}{{{}}}:t:{jti}", self.prefix, Self::tag(sub))
    }

    /// Where the access-token revocations of `sub` go: [`token`](Self::token)
    /// without the `jti`, for scripts that revoke several at once.
    pub(crate) fn token_prefix(&self, sub: &str) -> String {
        format!("{}{{{}}}:t:", self.prefix, Self::tag(Some(sub)))
    }

    /// A refresh family: in its subject's slot, with the cut-off and the
    /// access tokens it may have to revoke.
    pub(crate) fn family(&self, sub: &str, family: &str) -> String {
        format!("{}{{{}}}:f:{family}", self.prefix, Self::tag(Some(sub)))
    }

    /// A throttle window.
    pub(crate) fn attempts(&self, key: &str) -> String {
        format!("{}l:{key}", self.prefix)
    }

    pub(crate) fn cutoff(&self, sub: &str) -> String {
        format!("{}{{{}}}:c", self.prefix, Self::tag(Some(sub)))
    }

    pub(crate) fn parse(&self, key: &str) -> Option<Parsed> {
        let rest = key.strip_prefix(&self.prefix)?.strip_prefix('{')?;
        let (tag, rest) = rest.split_once('}')?;
        if let Some(jti) = rest.strip_prefix(":t:") {
            return Some(Parsed::Token {
                jti: jti.to_owned(),
            });
        }
        if rest == ":c" {
            let sub = String::from_utf8(URL_SAFE_NO_PAD.decode(tag).ok()?).ok()?;
            return Some(Parsed::Cutoff { sub });
        }
        None
    }
}

/// A revocation as published on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    Token { jti: String, expires_at_secs: u64 },
    Cutoff { sub: String, micros: i64 },
}

impl Event {
    pub(crate) fn encode(&self) -> String {
        match self {
            Self::Token {
                jti,
                expires_at_secs,
            } => format!("t|{expires_at_secs}|{jti}"),
            Self::Cutoff { sub, micros } => format!("s|{micros}|{sub}"),
        }
    }

    /// A channel message: the event, and its place in the revocation log
    /// when it was logged.
    pub(crate) fn decode_message(message: &[u8]) -> Option<(Option<StreamId>, Self)> {
        match message.strip_prefix(b"x") {
            Some(rest) => {
                let split = rest.iter().position(|&b| b == b'|')?;
                let id = StreamId::parse(std::str::from_utf8(&rest[..split]).ok()?)?;
                Some((Some(id), Self::decode(&rest[split + 1..])?))
            }
            None => Some((None, Self::decode(message)?)),
        }
    }

    pub(crate) fn decode(message: &[u8]) -> Option<Self> {
        let message = std::str::from_utf8(message).ok()?;
        let mut parts = message.splitn(3, '|');
        let (kind, number, name) = (parts.next()?, parts.next()?, parts.next()?);
        match kind {
            "t" => Some(Self::Token {
                jti: name.to_owned(),
                expires_at_secs: number.parse().ok()?,
            }),
            "s" => Some(Self::Cutoff {
                sub: name.to_owned(),
                micros: number.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// A Redis stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub(crate) struct StreamId {
    pub(crate) ms: u64,
    pub(crate) seq: u64,
}

impl StreamId {
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (ms, seq) = text.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_and_cutoff_keys_share_the_subject_hash_tag() {
        let keys = Keys::new("jg:");
        let token = keys.token(Some("al{ice}"), "j1");
        let cutoff = keys.cutoff("al{ice}");
        let tag = |k: &str| k[k.find('{').unwrap()..=k.find('}').unwrap()].to_owned();
        assert_eq!(tag(&token), tag(&cutoff));
        assert!(!tag(&token)[1..tag(&token).len() - 1].contains(['{', '}']));
        assert_eq!(keys.parse(&token), Some(Parsed::Token { jti: "j1".into() }));
        assert_eq!(
            keys.parse(&cutoff),
            Some(Parsed::Cutoff {
                sub: "al{ice}".into()
            })
        );
        assert_eq!(keys.parse("other:{x}:c"), None);
    }

    #[test]
    fn events_round_trip_even_with_separators_in_names() {
        for event in [
            Event::Token {
                jti: "a|b".into(),
                expires_at_secs: 17,
            },
            Event::Cutoff {
                sub: "x|y|z".into(),
                micros: 1_700_000_000_000_001,
            },
        ] {
            assert_eq!(Event::decode(event.encode().as_bytes()), Some(event));
        }
        assert_eq!(Event::decode(b"q|1|x"), None);
        let logged = Event::decode_message(b"x1700000000000-3|t|9|a|b").unwrap();
        assert_eq!(
            logged,
            (
                Some(StreamId {
                    ms: 1_700_000_000_000,
                    seq: 3
                }),
                Event::Token {
                    jti: "a|b".into(),
                    expires_at_secs: 9
                }
            )
        );
        assert_eq!(Event::decode_message(b"x12|t|9|a"), None);
        assert_eq!(Event::decode_message(b"t|9|a").unwrap().0, None);
        assert!(StreamId::parse("1-2") < StreamId::parse("2-0"));
        assert!(StreamId::parse("2-1") > StreamId::parse("2-0"));
        assert_eq!(Event::decode(b"t|nope|x"), None);
    }
}
