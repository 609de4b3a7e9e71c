//! The token's form: compact serialization only, a maximum length checked
//! before decoding, and strict base64url.

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use jwt_guard::{AuthErrorKind, ConfigErrorKind};
use serde_json::json;

use crate::support::{self, mint_raw, validator, validator_builder};

use super::{assert_jws_accepted, assert_jws_refused, claims_with, parts, with_part};

/// A decoder as lax as many: padding optional, trailing bits ignored.
fn lax(alphabet: &alphabet::Alphabet) -> GeneralPurpose {
    GeneralPurpose::new(
        alphabet,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    )
}

/// A validly signed token whose three parts all have unused trailing bits
/// (a length that is not a multiple of 4) and hold a `-` or `_`, so that
/// each part can be re-encoded in the ways a lax decoder would accept.
fn awkward_token() -> String {
    for i in 0..10_000 {
        let header = format!(r#"{{"alg":"HS256","typ":"JWT","n":"??>>{i}"}}"#);
        let claims = claims_with(|c| {
            c.insert("n".into(), json!(format!("??>>{i}")));
        });
        let token = mint_raw(&header, &claims.to_string());
        if parts(&token)
            .iter()
            .all(|part| part.len() % 4 != 0 && part.contains(['-', '_']))
        {
            return token;
        }
    }
    panic!("no awkward token found");
}

/// A validly signed token of exactly `len` bytes that passes [`validator`]
/// (when `len` allows it), padded through a header member and a claim.
fn token_of_len(len: usize) -> String {
    fn encoded_len(bytes: usize) -> usize {
        (bytes * 4).div_ceil(3)
    }
    let base = claims_with(|c| {
        c.insert("pad".into(), json!(""));
    })
    .to_string();
    for header_pad in 0..4 {
        let header = format!(
            r#"{{"alg":"HS256","typ":"JWT","h":"{}"}}"#,
            "h".repeat(header_pad)
        );
        let fixed = encoded_len(header.len()) + 2 + 43;
        for pad in 0..len {
            let total = fixed + encoded_len(base.len() + pad);
            if total == len {
                let payload =
                    base.replace(r#""pad":"""#, &format!(r#""pad":"{}""#, "x".repeat(pad)));
                let token = mint_raw(&header, &payload);
                assert_eq!(token.len(), len);
                return token;
            }
            if total > len {
                break;
            }
        }
    }
    panic!("no token of {len} bytes");
}

#[test]
fn json_serialization_is_refused_as_malformed() {
    let v = validator();
    let token = support::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    let p = parts(&token);
    let general = json!({
        "payload": p[1],
        "signatures": [{"protected": p[0], "signature": p[2]}],
    })
    .to_string();
    let flattened = json!({"payload": p[1], "protected": p[0], "signature": p[2]}).to_string();
    for serialized in [general, flattened] {
        assert_jws_refused(&v, &serialized, AuthErrorKind::Malformed);
    }
}

#[test]
fn token_with_two_parts_is_refused_as_malformed() {
    let v = validator();
    let token = support::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    let p = parts(&token);
    assert_jws_refused(&v, &format!("{}.{}", p[0], p[1]), AuthErrorKind::Malformed);
    assert_jws_refused(&v, p[0], AuthErrorKind::Malformed);
    assert_jws_refused(&v, "", AuthErrorKind::Malformed);
}

#[test]
fn token_with_four_or_five_parts_is_refused_as_malformed() {
    let v = validator();
    let token = support::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    let p = parts(&token);
    for extra in [
        format!("{token}.{}", p[2]),
        format!("{token}."),
        format!("{}.{}.{}.{}.{}", p[0], p[1], p[2], p[2], p[2]),
        format!("{}..{}.{}", p[0], p[1], p[2]),
    ] {
        assert_jws_refused(&v, &extra, AuthErrorKind::Malformed);
    }
}

#[test]
fn token_with_empty_signature_is_refused_as_malformed() {
    let v = validator();
    let token = support::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    let p = parts(&token);
    assert_jws_refused(&v, &format!("{}.{}.", p[0], p[1]), AuthErrorKind::Malformed);
}

#[test]
fn validly_signed_20_kb_token_is_refused_with_too_long() {
    let token = token_of_len(20 * 1024);
    assert_jws_refused(&validator(), &token, AuthErrorKind::TooLong);
    let roomy = validator_builder()
        .max_token_len(32 * 1024)
        .build()
        .unwrap();
    assert_jws_accepted(&roomy, &token);
}

#[test]
fn token_length_is_checked_before_decoding() {
    let v = validator();
    // Not base64url at all: only a check that runs before decoding says TooLong.
    let garbage = "!".repeat(20 * 1024);
    assert_jws_refused(&v, &garbage, AuthErrorKind::TooLong);
    let short_garbage = format!("{0}.{0}.{0}", "!".repeat(40));
    assert_jws_refused(&v, &short_garbage, AuthErrorKind::Malformed);
}

#[test]
fn token_of_exactly_the_default_limit_is_accepted_and_one_byte_more_is_refused() {
    assert_eq!(jwt_guard::verify::DEFAULT_MAX_TOKEN_LEN, 8 * 1024);
    let v = validator();
    assert_jws_accepted(&v, &token_of_len(8 * 1024));
    assert_jws_refused(&v, &token_of_len(8 * 1024 + 1), AuthErrorKind::TooLong);
}

#[test]
fn max_token_len_lowers_the_limit() {
    let token = token_of_len(600);
    let exact = validator_builder().max_token_len(600).build().unwrap();
    assert_jws_accepted(&exact, &token);
    let lower = validator_builder().max_token_len(599).build().unwrap();
    assert_jws_refused(&lower, &token, AuthErrorKind::TooLong);
}

#[test]
fn max_token_len_too_small_for_any_token_is_a_config_error() {
    let err = validator_builder().max_token_len(8).build().unwrap_err();
    assert_eq!(err.kind(), ConfigErrorKind::InvalidSetting);
    assert!(validator_builder().max_token_len(64).build().is_ok());
}

#[test]
fn padded_base64url_is_refused_as_malformed() {
    let v = validator();
    let token = awkward_token();
    assert_jws_accepted(&v, &token);
    for (index, part) in parts(&token).into_iter().enumerate() {
        let padded = format!("{part}{}", "=".repeat(4 - part.len() % 4));
        assert_eq!(
            lax(&alphabet::URL_SAFE).decode(&padded).unwrap(),
            URL_SAFE_NO_PAD.decode(part).unwrap(),
            "the padded part must decode to the same bytes under lax rules"
        );
        assert_jws_refused(
            &v,
            &with_part(&token, index, &padded),
            AuthErrorKind::Malformed,
        );
    }
}

#[test]
fn whitespace_in_base64url_is_refused_as_malformed() {
    let v = validator();
    let token = support::token("alice", &[]);
    assert_jws_accepted(&v, &token);
    for (index, part) in parts(&token).into_iter().enumerate() {
        for space in [" ", "\n", "\r\n", "\t"] {
            let middle = part.len() / 2;
            let spaced = format!("{}{space}{}", &part[..middle], &part[middle..]);
            assert_jws_refused(
                &v,
                &with_part(&token, index, &spaced),
                AuthErrorKind::Malformed,
            );
        }
    }
    for wrapped in [
        format!(" {token}"),
        format!("{token}\n"),
        format!("{token} "),
    ] {
        assert_jws_refused(&v, &wrapped, AuthErrorKind::Malformed);
    }
}

#[test]
fn standard_base64_alphabet_is_refused_as_malformed() {
    let v = validator();
    let token = awkward_token();
    assert_jws_accepted(&v, &token);
    for (index, part) in parts(&token).into_iter().enumerate() {
        let standard = part.replace('-', "+").replace('_', "/");
        assert_ne!(standard, part);
        assert_eq!(
            lax(&alphabet::STANDARD).decode(&standard).unwrap(),
            URL_SAFE_NO_PAD.decode(part).unwrap(),
            "the re-encoded part must decode to the same bytes in the standard alphabet"
        );
        assert_jws_refused(
            &v,
            &with_part(&token, index, &standard),
            AuthErrorKind::Malformed,
        );
    }
}

#[test]
fn non_canonical_trailing_bits_are_refused_as_malformed() {
    const URL_ALPHABET: &[u8; 64] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let v = validator();
    let token = awkward_token();
    assert_jws_accepted(&v, &token);
    for (index, part) in parts(&token).into_iter().enumerate() {
        // With 2 or 3 characters in the last quantum, at least the lowest 2
        // bits of the last character are unused: flipping the lowest one
        // keeps the decoded bytes under lax decoding.
        assert_ne!(part.len() % 4, 0);
        let last = *part.as_bytes().last().unwrap();
        let value = URL_ALPHABET.iter().position(|&c| c == last).unwrap();
        let twin = URL_ALPHABET[value ^ 1] as char;
        let non_canonical = format!("{}{twin}", &part[..part.len() - 1]);
        assert_eq!(
            lax(&alphabet::URL_SAFE).decode(&non_canonical).unwrap(),
            URL_SAFE_NO_PAD.decode(part).unwrap(),
            "the twin must decode to the same bytes under lax rules"
        );
        assert_jws_refused(
            &v,
            &with_part(&token, index, &non_canonical),
            AuthErrorKind::Malformed,
        );
    }
}
