//! Lifetimes such as `15m` and `1h30m`, against a reference reading of the
//! documented grammar: whole numbers with units `d`, `h`, `m`, `s`, largest
//! first and each once, surrounding whitespace ignored, total above zero
//! and within `u64` seconds.
#![no_main]

use std::time::Duration;

use jwt_guard::issue::parse_duration;
use libfuzzer_sys::fuzz_target;

fn reference(text: &str) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    let mut previous = u128::MAX;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(end);
        let mut chars = tail.chars();
        let unit = match chars.next()? {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        if number.is_empty() || unit >= previous {
            return None;
        }
        previous = unit;
        total = total.checked_add(number.parse::<u128>().ok()?.checked_mul(unit)?)?;
        if total > u128::from(u64::MAX) {
            return None;
        }
        rest = chars.as_str();
    }
    (total > 0).then(|| Duration::from_secs(total as u64))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert_eq!(parse_duration(text).ok(), reference(text), "{text:?}");
});
