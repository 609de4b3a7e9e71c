//! Conformance against Project Wycheproof's JWS vectors.
//!
//! Every case of `json_web_signature_test.json` goes through the JWS-level
//! entry point, [`Validator::verify_signature`], with the key of its group.
//! The vectors are not part of this repository: the test reads them from the
//! folder named by `WYCHEPROOF_DIR` and is ignored unless asked for:
//!
//! ```text
//! WYCHEPROOF_DIR=/path/to/wycheproof cargo test --test wycheproof -- --include-ignored
//! ```
//!
//! Six cases of the file expect what no implementation of this crate's rules
//! can give; their expectation is corrected, each only while the reason
//! holds for the vector (checked here, so a fixed upstream file is used as
//! it is), and the corrections are listed on stderr:
//!
//! - tcId 367 and 370 (`invalidBase64Padding…`, "invalid") are byte for byte
//!   the token of tcId 357 (`ValidMac`, "valid"): they take 357's expectation.
//! - tcId 372 and 373 (`InvalidCharacterInserted…`, "valid") hold a `?`,
//!   which strict base64url refuses (RFC 7515 §2, and this crate's rule).
//! - tcId 346 and 350 (RFC 7520 Figure 20, "valid") are PS384 tokens checked
//!   against a JWK whose `alg` is PS256; a key is bound to its one algorithm,
//!   and the file itself marks the same mismatch invalid in its `ps512` group.

use std::fmt::Write as _;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_guard::{Validator, VerifyingKey};
use serde::Deserialize;

const VECTOR_FILE: &str = "json_web_signature_test.json";
const SCHEMA: &str = "json_web_signature_schema_v1.json";

/// The top level of a Wycheproof file (json_web_signature_schema_v1.json).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VectorFile {
    schema: String,
    number_of_tests: usize,
    test_groups: Vec<TestGroup>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TestGroup {
    #[serde(rename = "type")]
    _type: String,
    #[serde(rename = "source")]
    _source: serde_json::Value,
    #[serde(default)]
    comment: String,
    #[serde(default)]
    private: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    public: Option<serde_json::Map<String, serde_json::Value>>,
    tests: Vec<TestVector>,
}

/// One case. Unknown members are refused so that a schema change (a payload
/// to compare, say) is noticed instead of silently ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TestVector {
    tc_id: u32,
    comment: String,
    jws: String,
    result: Expectation,
    flags: Vec<String>,
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Expectation {
    Valid,
    Invalid,
    Acceptable,
}

/// Why a vector's expectation is corrected; see the module docs.
#[derive(Clone, Copy, Debug)]
enum Correction {
    /// The token is identical to that of another case.
    DuplicateOf(u32),
    /// The token holds a character outside the base64url alphabet.
    NotBase64url,
    /// The token's `alg` differs from the `alg` of the group's key.
    AlgorithmDiffersFromKey,
}

const CORRECTIONS: [(u32, Correction); 6] = [
    (346, Correction::AlgorithmDiffersFromKey),
    (350, Correction::AlgorithmDiffersFromKey),
    (367, Correction::DuplicateOf(357)),
    (370, Correction::DuplicateOf(357)),
    (372, Correction::NotBase64url),
    (373, Correction::NotBase64url),
];

impl Correction {
    /// The corrected expectation, if the reason holds for this case.
    fn apply(
        self,
        case: &TestVector,
        group: &TestGroup,
        all: &[&TestVector],
    ) -> Option<Expectation> {
        match self {
            Self::DuplicateOf(id) => all
                .iter()
                .find(|other| other.tc_id == id && other.jws == case.jws)
                .map(|other| other.result),
            Self::NotBase64url => case
                .jws
                .chars()
                .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                .then_some(Expectation::Invalid),
            Self::AlgorithmDiffersFromKey => {
                let header = URL_SAFE_NO_PAD.decode(case.jws.split('.').next()?).ok()?;
                let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
                let key_alg = group.jwk().get("alg")?;
                (header.get("alg")? != key_alg).then_some(Expectation::Invalid)
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: usize,
    failures: String,
}

impl TestGroup {
    /// The JWK to load: `public`, or `private` when there is none (HMAC keys,
    /// whose private members our JWK parser ignores).
    fn jwk(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.public
            .as_ref()
            .or(self.private.as_ref())
            .unwrap_or_else(|| panic!("group `{}` has no key", self.comment))
    }

    /// The JWK as this crate should read it: Wycheproof's P-521 keys (RFC
    /// 7520's figure 2, whose JWK has no `alg`) carry `"alg": "ES521"`, a
    /// name no registry has (JWA calls it ES512). The member is dropped,
    /// and the curve decides, as for any JWK without `alg`.
    fn corrected_jwk(&self) -> serde_json::Value {
        let mut jwk = self.jwk().clone();
        if jwk.get("alg").and_then(|v| v.as_str()) == Some("ES521") {
            jwk.remove("alg");
        }
        serde_json::Value::Object(jwk)
    }
}

fn vectors_dir() -> PathBuf {
    match std::env::var_os("WYCHEPROOF_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => panic!(
            "WYCHEPROOF_DIR is not set: point it at the folder holding Wycheproof's \
             {VECTOR_FILE} (e.g. WYCHEPROOF_DIR=/work/shared/vectors/wycheproof)"
        ),
    }
}

#[test]
#[ignore = "set WYCHEPROOF_DIR to the Wycheproof vectors folder"]
fn wycheproof_jws_cases_are_accepted_or_refused_as_the_vectors_require() {
    let path = vectors_dir().join(VECTOR_FILE);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let file: VectorFile = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} does not follow {SCHEMA}: {e}", path.display()));
    assert_eq!(
        file.schema,
        SCHEMA,
        "unexpected schema in {}",
        path.display()
    );

    let all: Vec<&TestVector> = file.test_groups.iter().flat_map(|g| &g.tests).collect();
    let mut tally = Tally::default();
    let mut corrected = Vec::new();
    let mut cases = 0;
    for group in &file.test_groups {
        cases += group.tests.len();
        let jwk = group.corrected_jwk().to_string();
        // A key that fails to load refuses every case of its group.
        let validator = VerifyingKey::from_jwk(&jwk).ok().map(|key| {
            Validator::builder()
                .key(key)
                .require_exp(false)
                .build()
                .unwrap_or_else(|e| panic!("group `{}`: validator: {e}", group.comment))
        });
        for case in &group.tests {
            let outcome = match &validator {
                None => Err("the key did not load".to_owned()),
                Some(validator) => validator
                    .verify_signature(&case.jws)
                    .map(|jws| jws.into_payload())
                    .map_err(|e| e.to_string()),
            };
            let mut expected = case.result;
            if let Some((_, correction)) = CORRECTIONS.iter().find(|(id, _)| *id == case.tc_id)
                && let Some(fixed) = correction.apply(case, group, &all)
            {
                corrected.push(format!(
                    "tcId {} {:?}: {:?} -> {fixed:?} ({correction:?})",
                    case.tc_id, case.comment, case.result
                ));
                expected = fixed;
            }
            let problem = match (expected, &outcome) {
                (Expectation::Valid, Ok(payload)) => payload_mismatch(&case.jws, payload),
                (Expectation::Valid, Err(why)) => Some(format!("valid case refused: {why}")),
                (Expectation::Invalid, Ok(_)) => Some("invalid case accepted".to_owned()),
                (Expectation::Invalid, Err(_)) | (Expectation::Acceptable, _) => None,
            };
            match problem {
                None => tally.passed += 1,
                Some(problem) => {
                    tally.failed += 1;
                    writeln!(
                        tally.failures,
                        "  tcId {} ({}): {:?}, flags {:?}: {problem}",
                        case.tc_id, group.comment, case.comment, case.flags
                    )
                    .unwrap();
                }
            }
        }
    }

    for line in &corrected {
        eprintln!("wycheproof: corrected expectation: {line}");
    }
    println!(
        "wycheproof: {} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.skipped
    );
    assert_eq!(
        cases, file.number_of_tests,
        "the file announces {} cases but holds {cases}",
        file.number_of_tests
    );
    assert!(
        tally.failed == 0,
        "{} Wycheproof case(s) failed:\n{}",
        tally.failed,
        tally.failures
    );
}

/// The verified payload must be the token's decoded payload part. (The
/// vectors carry no payload of their own.)
fn payload_mismatch(jws: &str, payload: &[u8]) -> Option<String> {
    let part = jws.split('.').nth(1).unwrap_or_default();
    match URL_SAFE_NO_PAD.decode(part) {
        Ok(expected) if expected == payload => None,
        _ => Some("the verified payload is not the token's payload".to_owned()),
    }
}
