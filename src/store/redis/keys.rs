//! Key and message layout.
//!
//! ```text
//! {prefix}{<base64url(sub)>}:t:<jti>   value: the token's expiry (Unix s), EXAT the same
//! {prefix}{<base64url(sub)>}:c         value: the cut-off (Unix µs), EXAT cut-off + retention
//! {prefix}{<base64url(sub)>}:f:<family>  hash: a refresh family (see `families.rs`)
//! {prefix}l:<key>                  value: attempts in the throttle window, PEXPIRE the window
//! {prefix}d:<proof id>             value: the id of the use that recorded a DPoP proof,
//!                                      PEXPIRE the proof's replay window
//! channel {prefix}events               messages "t|<exp s>|<jti>" and "s|<cut-off µs>|<sub>",
//!                                      prefixed "x<stream id>|" when also logged
//! {prefix}log                          stream: the same messages (field `e`), trimmed by time
//! shard channel {prefix}{<slot tag>}:events   on a Cluster, instead of the channel: the
//!                                      messages of one slot (`SPUBLISH`)
//! ```
//!
//! On a Cluster, classic `PUBLISH` crosses the cluster bus to reach
//! subscribers on other nodes; a shard channel is served by the master that
//! owns its slot. A script may only publish to a shard channel of its own
//! keys' slot, so each of the 16 384 slots has its channel, named by a
//! short hash tag that lands in that slot (`slot_tags`), and a mirror
//! subscribes to all 16 384, each on the master owning it. A slot that
//! migrates ends its subscriptions (Redis sends `sunsubscribe`), a failover
//! drops the connection: either ends the mirror's follow, and the next one
//! subscribes on the current owners and reloads.
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
    /// On a Cluster: messages go to the shard channel of their slot.
    sharded: bool,
}

impl RevocationLog {
    /// `cluster`: no log (a script writes one slot), and messages on shard
    /// channels.
    pub(crate) fn new(keys: &Keys, retention: std::time::Duration, cluster: bool) -> Self {
        let on = !cluster && !retention.is_zero();
        Self {
            key: if on {
                keys.log().to_owned()
            } else {
                String::new()
            },
            retention_ms: u64::try_from(retention.as_millis()).unwrap_or(u64::MAX),
            sharded: cluster,
        }
    }

    /// Whether messages go to shard channels (a Cluster).
    pub(crate) fn is_sharded(&self) -> bool {
        self.sharded
    }

    /// Whether revocations are logged.
    pub(crate) fn is_on(&self) -> bool {
        !self.key.is_empty()
    }

    /// Appends the script arguments `publish` takes after the message.
    pub(crate) fn args(&self, invocation: &mut redis::ScriptInvocation<'_>) {
        invocation
            .arg(&self.key)
            .arg(self.retention_ms)
            .arg(if self.sharded { "1" } else { "0" });
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

    /// A DPoP proof used.
    pub(crate) fn proof(&self, proof_id: &str) -> String {
        format!("{}d:{proof_id}", self.prefix)
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

/// The number of Redis Cluster hash slots.
pub(crate) const SLOTS: usize = 16_384;

/// The cluster slot of `key`, by Redis's rule: the CRC16 (XMODEM) of its
/// hash tag (the text between the first `{` and the next `}`, when not
/// empty), else of the whole key, modulo 16 384.
pub(crate) fn key_slot(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let hashed = bytes
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &bytes[open + 1..];
            let close = rest.iter().position(|&b| b == b'}')?;
            (close > 0).then(|| &rest[..close])
        })
        .unwrap_or(bytes);
    crc16(hashed) % SLOTS as u16
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// For each slot, a short hash tag that lands in it: the shard channel of
/// a slot is `{prefix}{<tag>}:events`, so that a script may `SPUBLISH` to
/// the channel of its own keys' slot.
fn slot_tags() -> &'static [String] {
    static TAGS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
        let mut tags = vec![String::new(); SLOTS];
        let mut missing = SLOTS;
        let mut n: u64 = 0;
        while missing > 0 {
            let tag = format!("s{n:x}");
            let slot = usize::from(crc16(tag.as_bytes()) % SLOTS as u16);
            if tags[slot].is_empty() {
                tags[slot] = tag;
                missing -= 1;
            }
            n += 1;
        }
        tags
    });
    &TAGS
}

impl Keys {
    /// The shard channel of `key`'s slot.
    pub(crate) fn shard_channel(&self, key: &str) -> String {
        self.slot_channel(usize::from(key_slot(key)))
    }

    /// The shard channel of `slot`.
    pub(crate) fn slot_channel(&self, slot: usize) -> String {
        format!("{}{{{}}}:events", self.prefix, slot_tags()[slot])
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
    fn slots_follow_redis_and_each_slot_has_its_own_channel() {
        // Redis Cluster specification: CRC16("123456789") = 0x31C3.
        assert_eq!(crc16(b"123456789"), 0x31c3);
        assert_eq!(key_slot("foo"), 12182);
        assert_eq!(key_slot("{user1000}.following"), key_slot("user1000"));
        assert_eq!(key_slot("foo{}{bar}"), key_slot("foo{}{bar}"));
        assert_ne!(key_slot("foo{}{bar}"), key_slot("bar"));
        let keys = Keys::new("jg:");
        let token = keys.token(Some("ann"), "j1");
        assert_eq!(key_slot(&keys.shard_channel(&token)), key_slot(&token));
        let anonymous = keys.token(None, "j2");
        assert_eq!(
            key_slot(&keys.shard_channel(&anonymous)),
            key_slot(&anonymous)
        );
        for slot in [0, 1, 5000, SLOTS - 1] {
            assert_eq!(usize::from(key_slot(&keys.slot_channel(slot))), slot);
        }
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
