//! Human lifetimes: `90s`, `15m`, `8h`, `7d`.

use std::time::Duration;

use crate::error::{ConfigError, ConfigErrorKind};

/// Parses a lifetime the way `JWT_EXPIRES_IN` settings are written: a whole
/// number and a unit, `s`, `m`, `h` or `d` (`90s`, `15m`, `8h`, `7d`). Parts
/// may be combined, largest first (`1h30m`). A bare number is refused: Node's
/// `ms`, which reads most such settings in a fleet, takes `15` for 15
/// milliseconds, so a unit must say which is meant. Zero, fractions,
/// negative and overflowing values are refused too.
///
/// ```
/// use std::time::Duration;
/// use jwt_guard::issue::parse_duration;
///
/// assert_eq!(parse_duration("15m")?, Duration::from_secs(900));
/// assert_eq!(parse_duration("7d")?, Duration::from_secs(7 * 24 * 3600));
/// assert_eq!(parse_duration("1h30m")?, Duration::from_secs(5400));
/// assert!(parse_duration("90").is_err()); // 90 what? (Node's `ms`: milliseconds)
/// assert!(parse_duration("0s").is_err());
/// assert!(parse_duration("15 minutes").is_err());
/// # Ok::<(), jwt_guard::ConfigError>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, ConfigError> {
    let invalid = || {
        ConfigError::new(
            ConfigErrorKind::InvalidSetting,
            format!(
                "`{}` is not a lifetime: write a number and a unit, as in 90s, 15m, 8h or 7d",
                text.escape_debug()
            ),
        )
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    let mut rest = trimmed;
    let mut last_unit = u64::MAX;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let (unit, len) = match rest.bytes().next() {
            Some(b's') => (1, 1),
            Some(b'm') => (60, 1),
            Some(b'h') => (3600, 1),
            Some(b'd') => (86_400, 1),
            _ => return Err(invalid()),
        };
        // Largest unit first, each once.
        if unit >= last_unit {
            return Err(invalid());
        }
        last_unit = unit;
        rest = &rest[len..];
        total = value
            .checked_mul(unit)
            .and_then(|secs| total.checked_add(secs))
            .ok_or_else(invalid)?;
    }
    if total == 0 {
        return Err(invalid());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_systems_forms_parse() {
        for (text, secs) in [
            ("90s", 90),
            ("15m", 900),
            ("1h", 3600),
            ("8h", 28_800),
            ("24h", 86_400),
            ("7d", 604_800),
            ("1d12h", 129_600),
            (" 30m ", 1800),
        ] {
            assert_eq!(
                parse_duration(text).unwrap(),
                Duration::from_secs(secs),
                "{text}"
            );
        }
    }

    #[test]
    fn malformed_lifetimes_are_refused() {
        for text in [
            "",
            "s",
            "0",
            "15",
            "3600",
            "0m",
            "-5m",
            "1.5h",
            "15 m",
            "15M",
            "15min",
            "1m1h",
            "1h1h",
            "5x",
            "99999999999999999999d",
            "213503982334602d",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} was accepted");
        }
    }
}
