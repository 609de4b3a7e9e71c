//! Where a request was sent, as its DPoP proof must name it: a configured
//! public origin, else what trusted proxies forwarded, else the request's
//! own scheme and authority.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};

/// A network of proxies (an address, or a CIDR block such as
/// `10.0.0.0/8`) whose `X-Forwarded-Proto` and `X-Forwarded-Host` headers
/// name the URI a DPoP proof must name, for requests that come from it.
/// See [`JwtLayerBuilder::dpop_trusted_proxies`](crate::layer::JwtLayerBuilder::dpop_trusted_proxies).
///
/// ```
/// use jwt_guard::dpop::ProxyNetwork;
///
/// let proxies: ProxyNetwork = "10.0.0.0/8".parse()?;
/// assert!(proxies.contains("10.1.2.3".parse().unwrap()));
/// assert!(!proxies.contains("192.168.1.1".parse().unwrap()));
/// let one: ProxyNetwork = "::1".parse()?;
/// assert!(one.contains("::1".parse().unwrap()));
/// # Ok::<(), jwt_guard::ConfigError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProxyNetwork {
    network: IpAddr,
    prefix: u8,
}

impl ProxyNetwork {
    /// The addresses whose first `prefix` bits are `network`'s.
    ///
    /// # Errors
    ///
    /// `InvalidSetting` for a prefix longer than the address (32 bits for
    /// IPv4, 128 for IPv6), or an address with bits set past the prefix
    /// (`10.1.0.0/8`: write `10.0.0.0/8`).
    pub fn new(network: IpAddr, prefix: u8) -> Result<Self, ConfigError> {
        let network = network.to_canonical();
        let bits = match network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let invalid = |message| ConfigError::new(ConfigErrorKind::InvalidSetting, message);
        if prefix > bits {
            return Err(invalid(
                "a proxy network's prefix is longer than its address",
            ));
        }
        let proxies = Self { network, prefix };
        if mask(network, prefix) != bits_of(network) {
            return Err(invalid(
                "a proxy network's address has bits set past its prefix",
            ));
        }
        Ok(proxies)
    }

    /// One address.
    pub fn address(address: IpAddr) -> Self {
        let address = address.to_canonical();
        let prefix = if address.is_ipv4() { 32 } else { 128 };
        Self {
            network: address,
            prefix,
        }
    }

    /// Whether `address` is in this network (an IPv4-mapped IPv6 address
    /// counts as its IPv4 address).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        address.is_ipv4() == self.network.is_ipv4()
            && mask(address, self.prefix) == mask(self.network, self.prefix)
    }
}

fn bits_of(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// `address`'s first `prefix` bits, the rest zero.
fn mask(address: IpAddr, prefix: u8) -> u128 {
    let bits = if address.is_ipv4() { 32 } else { 128 };
    let kept = u32::from(prefix.min(bits));
    let value = bits_of(address);
    if kept == 0 {
        0
    } else {
        value & (u128::MAX << (u32::from(bits) - kept)) & (u128::MAX >> (128 - u32::from(bits)))
    }
}

impl fmt::Debug for ProxyNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl fmt::Display for ProxyNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl FromStr for ProxyNetwork {
    type Err = ConfigError;

    /// `10.0.0.0/8`, `fd00::/8`, or one address (`127.0.0.1`, `::1`).
    fn from_str(text: &str) -> Result<Self, ConfigError> {
        let invalid = || {
            ConfigError::new(
                ConfigErrorKind::InvalidSetting,
                "a proxy network is an IP address, or one with a /prefix",
            )
        };
        match text.split_once('/') {
            None => text.parse().map(Self::address).map_err(|_| invalid()),
            Some((address, prefix)) => {
                let address: IpAddr = address.parse().map_err(|_| invalid())?;
                if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(invalid());
                }
                Self::new(address, prefix.parse().map_err(|_| invalid())?)
            }
        }
    }
}

/// How a layer reads a request's origin for its proofs.
#[derive(Debug, Clone, Default)]
pub(crate) struct OriginRule {
    /// The scheme and authority that override the request's own, if any.
    pub(crate) public: Option<(String, String)>,
    /// Proxies whose forwarded scheme and host are believed.
    pub(crate) trusted_proxies: Vec<ProxyNetwork>,
}

impl OriginRule {
    /// The scheme and authority the request was sent to: the public origin
    /// when configured; else, for a request from a trusted proxy, its
    /// `X-Forwarded-Proto` and `X-Forwarded-Host` (each the request's own
    /// when absent); else the request's own. `None` for the request's own.
    pub(crate) fn forwarded<'h>(
        &'h self,
        headers: &'h http::HeaderMap,
        peer: Option<IpAddr>,
    ) -> Result<(Option<&'h str>, Option<&'h str>), AuthError> {
        if let Some((scheme, authority)) = &self.public {
            return Ok((Some(scheme), Some(authority)));
        }
        let trusted = peer.is_some_and(|peer| {
            self.trusted_proxies
                .iter()
                .any(|proxies| proxies.contains(peer))
        });
        if !trusted {
            return Ok((None, None));
        }
        let proto = single(headers, "x-forwarded-proto")?;
        if let Some(proto) = proto
            && !proto.eq_ignore_ascii_case("http")
            && !proto.eq_ignore_ascii_case("https")
        {
            return Err(invalid("the forwarded scheme is not http or https"));
        }
        Ok((proto, single(headers, "x-forwarded-host")?))
    }
}

fn invalid(description: &'static str) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidRequest, description)
}

/// The one value of header `name`, if any. Several (a list, or the header
/// twice: a proxy that appends instead of setting) cannot say which one
/// the client used, and are refused.
fn single<'h>(headers: &'h http::HeaderMap, name: &str) -> Result<Option<&'h str>, AuthError> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| invalid("a forwarded header is not valid text"))?
        .trim();
    if values.next().is_some() || value.contains(',') {
        return Err(invalid(
            "a forwarded header holds several values: the proxy must set it, not append to it",
        ));
    }
    if value.is_empty() {
        return Err(invalid("a forwarded header is empty"));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(text: &str) -> ProxyNetwork {
        text.parse().unwrap()
    }

    #[test]
    fn networks_contain_their_addresses_only() {
        let ten = network("10.0.0.0/8");
        assert!(ten.contains("10.255.0.1".parse().unwrap()));
        assert!(!ten.contains("11.0.0.1".parse().unwrap()));
        assert!(
            ten.contains("::ffff:10.0.0.1".parse().unwrap()),
            "IPv4-mapped"
        );
        assert!(!ten.contains("::1".parse().unwrap()));
        let v6 = network("fd00::/8");
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        let one = network("127.0.0.1");
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let all = network("0.0.0.0/0");
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        assert_eq!(format!("{ten}"), "10.0.0.0/8");
    }

    #[test]
    fn malformed_networks_are_refused() {
        for bad in [
            "10.1.0.0/8",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "host",
            "",
        ] {
            let error = bad.parse::<ProxyNetwork>().unwrap_err();
            assert_eq!(error.kind(), ConfigErrorKind::InvalidSetting, "{bad}");
        }
    }

    #[test]
    fn forwarded_headers_count_from_trusted_proxies_only() {
        let rule = OriginRule {
            public: None,
            trusted_proxies: vec![network("10.0.0.0/8")],
        };
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        headers.insert("x-forwarded-host", "api.example".parse().unwrap());
        let proxy = Some("10.0.0.7".parse().unwrap());
        let stranger = Some("192.0.2.1".parse().unwrap());
        assert_eq!(
            rule.forwarded(&headers, proxy).unwrap(),
            (Some("https"), Some("api.example"))
        );
        assert_eq!(rule.forwarded(&headers, stranger).unwrap(), (None, None));
        assert_eq!(rule.forwarded(&headers, None).unwrap(), (None, None));

        headers.append("x-forwarded-host", "evil.example".parse().unwrap());
        assert!(rule.forwarded(&headers, proxy).is_err(), "two hosts");
        headers.insert(
            "x-forwarded-host",
            "evil.example, api.example".parse().unwrap(),
        );
        assert!(rule.forwarded(&headers, proxy).is_err(), "a list");
        headers.insert("x-forwarded-host", "api.example".parse().unwrap());
        headers.insert("x-forwarded-proto", "ftp".parse().unwrap());
        assert!(rule.forwarded(&headers, proxy).is_err(), "another scheme");

        let public = OriginRule {
            public: Some(("https".into(), "public.example".into())),
            trusted_proxies: vec![network("10.0.0.0/8")],
        };
        assert_eq!(
            public.forwarded(&headers, proxy).unwrap(),
            (Some("https"), Some("public.example"))
        );
    }
}
