//! Claim mapping: where tokens minted by other systems keep the subject,
//! the roles and the permissions, configured on the validator rather than
//! coded in a claims type.
//!
//! The mapped values are handed to the claims type as `sub`, `roles` and
//! `permissions`, normalised: a single role string becomes a one-role list,
//! a space-separated permission string (OAuth `scope`, `scp`) is split. So
//! [`StandardClaims`](super::StandardClaims) and the role and permission
//! guards work unchanged, and so does revocation by subject (logout
//! everywhere), which reads the mapped `sub`.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::RegisteredClaims;
use crate::error::{AuthError, AuthErrorKind, ConfigError, ConfigErrorKind};

/// Where the subject, the roles and the permissions are in a token, for
/// tokens minted by other systems.
///
/// Each is a path of member names from the top of the claims: dotted
/// (`"realm_access.roles"`) with [`roles`](Self::roles), or as segments
/// with [`roles_at`](Self::roles_at) for names that contain a dot (Auth0's
/// `"https://example.com/roles"`). Unset, the usual claims are read: `sub`,
/// `roles` (an array) and `permissions` (an array, or OAuth `scope`).
///
/// Revocation keys on the subject: every service sharing a revocation store
/// must map the subject the same way, and to a claim that never changes for
/// a user (an id, not a username), or a logout seen by one is missed by
/// another.
///
/// A configured claim is required: a token without it is refused
/// ([`MissingClaim`](crate::AuthErrorKind::MissingClaim)), and one of the
/// wrong type names the claim, never its value
/// ([`InvalidClaim`](crate::AuthErrorKind::InvalidClaim)).
///
/// ```
/// use jwt_guard::{Algorithm, ClaimMapping, HasRoles, SigningKey, StandardClaims, Validator, VerifyingKey};
/// use serde_json::json;
///
/// const SECRET: &[u8] = b"a-secret-of-at-least-thirty-two-bytes!";
/// // A Keycloak access token: roles under `realm_access.roles`, OAuth scopes.
/// let validator = Validator::builder()
///     .key(VerifyingKey::hmac(Algorithm::HS256, SECRET)?)
///     .claim_mapping(
///         ClaimMapping::new()
///             .roles("realm_access.roles")
///             .permissions("scope"),
///     )
///     .build()?;
/// # let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
/// let token = SigningKey::hmac(Algorithm::HS256, SECRET)?.sign("JWT", &json!({
///     "sub": "f81d4fae-7dec-11d0-a765-00a0c91e6bf6",
///     "preferred_username": "alice",
///     "realm_access": { "roles": ["admin", "offline_access"] },
///     "scope": "openid orders:read",
///     "exp": now + 300,
/// }))?;
/// let verified = validator.validate::<StandardClaims>(&token)?;
/// // `sub` stays Keycloak's user id, which never changes (a username may).
/// assert_eq!(verified.claims().sub, "f81d4fae-7dec-11d0-a765-00a0c91e6bf6");
/// assert!(verified.claims().has_role("admin"));
/// assert!(verified.claims().has_permission("orders:read"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct ClaimMapping {
    subject: Option<Vec<String>>,
    numeric_subject: bool,
    roles: Option<Vec<String>>,
    permissions: Option<Vec<String>>,
}

fn dotted(path: &str) -> Vec<String> {
    path.split('.').map(str::to_owned).collect()
}

fn segments(path: impl IntoIterator<Item = impl Into<String>>) -> Vec<String> {
    path.into_iter().map(Into::into).collect()
}

impl ClaimMapping {
    /// The usual claims: `sub`, `roles`, `permissions`.
    pub fn new() -> Self {
        Self::default()
    }

    /// The subject is the claim at the dotted `path` (e.g. `"id"`,
    /// `"userId"`), a string; see [`numeric_subject`](Self::numeric_subject)
    /// for numbers.
    pub fn subject(mut self, path: &str) -> Self {
        self.subject = Some(dotted(path));
        self
    }

    /// The subject is the claim at the path made of these member names.
    pub fn subject_at(mut self, path: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.subject = Some(segments(path));
        self
    }

    /// Whether an integer subject (`{"userId": 42}`) is accepted, as its
    /// decimal text (default `false`: the subject must be a string).
    pub fn numeric_subject(mut self, accept: bool) -> Self {
        self.numeric_subject = accept;
        self
    }

    /// The roles are the claim at the dotted `path` (`"role"`, `"groups"`,
    /// `"authorities"`, `"realm_access.roles"`,
    /// `"resource_access.my-client.roles"`): an array of strings, or one
    /// string, which is one role.
    pub fn roles(mut self, path: &str) -> Self {
        self.roles = Some(dotted(path));
        self
    }

    /// The roles are the claim at the path made of these member names.
    pub fn roles_at(mut self, path: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.roles = Some(segments(path));
        self
    }

    /// The permissions are the claim at the dotted `path` (`"scope"`,
    /// `"scp"`, `"permissions"`): an array of strings, or a string of
    /// space-separated permissions, as OAuth writes `scope`. They are then
    /// the only permissions: a `scope` claim beside another mapped path is
    /// dropped, so that it cannot grant any.
    pub fn permissions(mut self, path: &str) -> Self {
        self.permissions = Some(dotted(path));
        self
    }

    /// The permissions are the claim at the path made of these member names.
    pub fn permissions_at(mut self, path: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.permissions = Some(segments(path));
        self
    }

    /// Whether nothing is mapped: the claims are read as they are.
    pub(crate) fn is_identity(&self) -> bool {
        self.subject.is_none() && self.roles.is_none() && self.permissions.is_none()
    }

    /// Refuses paths that name nothing (an empty path or member name), at
    /// build time.
    pub(crate) fn check(&self) -> Result<(), ConfigError> {
        for (what, path) in [
            ("subject", &self.subject),
            ("roles", &self.roles),
            ("permissions", &self.permissions),
        ] {
            if let Some(path) = path
                && (path.is_empty() || path.iter().any(String::is_empty))
            {
                return Err(ConfigError::new(
                    ConfigErrorKind::InvalidSetting,
                    format!(
                        "the {what} claim path `{}` has an empty member name",
                        path.join(".")
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Parses `payload` into `T` with the mapped claims in place of `sub`,
    /// `roles` and `permissions`, and the registered claims with the mapped
    /// subject.
    pub(crate) fn parse<T: DeserializeOwned>(
        &self,
        payload: &[u8],
    ) -> Result<(T, RegisteredClaims), AuthError> {
        let (claims, mut registered) = super::parse_claims::<Map<String, Value>>(payload)?;
        let claims = Value::Object(self.apply(claims, &mut registered)?);
        match T::deserialize(&claims) {
            Ok(parsed) => Ok((parsed, registered)),
            Err(error) => {
                // serde's message may quote claim values: trace only.
                tracing::trace!(%error, "mapped claims do not match the claims type");
                Err(super::parse::shape_error::<T>(Some(claims)))
            }
        }
    }

    fn apply(
        &self,
        mut claims: Map<String, Value>,
        registered: &mut RegisteredClaims,
    ) -> Result<Map<String, Value>, AuthError> {
        if let Some(path) = &self.subject {
            let subject = match lookup(&claims, path)? {
                Value::String(subject) => subject.clone(),
                Value::Number(number) if self.numeric_subject && !number.is_f64() => {
                    number.to_string()
                }
                _ if self.numeric_subject => {
                    return Err(invalid(path, "must be a string or an integer"));
                }
                _ => return Err(invalid(path, "must be a string")),
            };
            registered.sub = Some(subject.clone());
            claims.insert("sub".to_owned(), Value::String(subject));
        }
        if let Some(path) = &self.roles {
            let roles = match lookup(&claims, path)? {
                Value::String(role) => vec![Value::String(role.clone())],
                Value::Array(roles) => strings(roles, path)?,
                _ => return Err(invalid(path, "must be a string or an array of strings")),
            };
            claims.insert("roles".to_owned(), Value::Array(roles));
        }
        if let Some(path) = &self.permissions {
            let permissions = match lookup(&claims, path)? {
                Value::String(scope) => scope
                    .split_ascii_whitespace()
                    .map(|p| Value::String(p.to_owned()))
                    .collect(),
                Value::Array(permissions) => strings(permissions, path)?,
                _ => return Err(invalid(path, "must be a string or an array of strings")),
            };
            claims.insert("permissions".to_owned(), Value::Array(permissions));
            // The mapped claim stands in for the permissions: a `scope` the
            // token also has must not grant any (guards read both).
            if path.as_slice() != ["scope"] {
                claims.remove("scope");
            }
        }
        Ok(claims)
    }
}

/// The claim at `path`; refused when the token does not have it.
fn lookup<'v>(claims: &'v Map<String, Value>, path: &[String]) -> Result<&'v Value, AuthError> {
    let (first, rest) = path.split_first().expect("checked at build: not empty");
    let mut value = claims.get(first);
    for name in rest {
        value = value.and_then(|v| v.as_object()).and_then(|v| v.get(name));
    }
    value.ok_or_else(|| {
        AuthError::new(
            AuthErrorKind::MissingClaim,
            format!("the token has no `{}` claim", path.join(".")),
        )
    })
}

fn strings(items: &[Value], path: &[String]) -> Result<Vec<Value>, AuthError> {
    if items.iter().all(Value::is_string) {
        Ok(items.to_vec())
    } else {
        Err(invalid(path, "must hold only strings"))
    }
}

fn invalid(path: &[String], what: &str) -> AuthError {
    AuthError::new(
        AuthErrorKind::InvalidClaim,
        format!("the `{}` claim {what}", path.join(".")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StandardClaims;
    use crate::claims::HasRoles;

    fn parse(mapping: &ClaimMapping, payload: &str) -> Result<StandardClaims, AuthError> {
        mapping
            .parse::<StandardClaims>(payload.as_bytes())
            .map(|(claims, _)| claims)
    }

    #[test]
    fn seed_shapes_map_onto_subject_roles_and_permissions() {
        // gyan-ghar: one role as a string, no `sub`.
        let gyan_ghar = ClaimMapping::new().subject("id").roles("role");
        let claims = parse(&gyan_ghar, r#"{"id":"u1","email":"a@b.c","role":"admin"}"#).unwrap();
        assert_eq!(claims.sub, "u1");
        assert!(claims.has_role("admin"));
        assert_eq!(claims.extra["email"], "a@b.c");
        // ClassmateFinder: a numeric `userId`, accepted as text when asked.
        let classmate = ClaimMapping::new().subject("userId").numeric_subject(true);
        assert_eq!(parse(&classmate, r#"{"userId":42}"#).unwrap().sub, "42");
        // Keycloak: nested roles, a client's roles.
        let keycloak = ClaimMapping::new().roles("resource_access.shop.roles");
        let claims = parse(
            &keycloak,
            r#"{"sub":"a","resource_access":{"shop":{"roles":["clerk"]}}}"#,
        )
        .unwrap();
        assert!(claims.has_role("clerk"));
        // OAuth: space-separated `scp`; Spring: `authorities`.
        let oauth = ClaimMapping::new().permissions("scp").roles("authorities");
        let claims = parse(
            &oauth,
            r#"{"sub":"a","scp":"orders:read  orders:write","authorities":["ROLE_ADMIN"]}"#,
        )
        .unwrap();
        assert_eq!(claims.permissions, ["orders:read", "orders:write"]);
        assert!(claims.has_role("ROLE_ADMIN"));
        // Auth0: a namespaced claim whose name holds dots.
        let auth0 = ClaimMapping::new().roles_at(["https://shop.example/roles"]);
        let claims = parse(&auth0, r#"{"sub":"a","https://shop.example/roles":["x"]}"#).unwrap();
        assert!(claims.has_role("x"));
    }

    #[test]
    fn mapped_permissions_are_the_only_ones() {
        let mapping = ClaimMapping::new().permissions("scp");
        let claims = parse(
            &mapping,
            r#"{"sub":"a","scp":"orders:read","scope":"admin:all"}"#,
        )
        .unwrap();
        assert!(claims.has_permission("orders:read"));
        assert!(!claims.has_permission("admin:all"));
        let mapping = ClaimMapping::new().permissions("scope");
        let claims = parse(&mapping, r#"{"sub":"a","scope":"orders:read"}"#).unwrap();
        assert!(claims.has_permission("orders:read"));
    }

    #[test]
    fn the_mapped_subject_is_the_one_revocation_sees() {
        let mapping = ClaimMapping::new().subject("id");
        let (_, registered) = mapping
            .parse::<StandardClaims>(br#"{"sub":"ignored","id":"u1"}"#)
            .unwrap();
        assert_eq!(registered.sub(), Some("u1"));
    }

    #[test]
    fn a_missing_or_mistyped_claim_is_named_never_its_value() {
        let mapping = ClaimMapping::new()
            .subject("id")
            .roles("realm_access.roles");
        for (payload, kind, description) in [
            (
                r#"{"realm_access":{"roles":[]}}"#,
                AuthErrorKind::MissingClaim,
                "the token has no `id` claim",
            ),
            (
                r#"{"id":"u1","realm_access":{}}"#,
                AuthErrorKind::MissingClaim,
                "the token has no `realm_access.roles` claim",
            ),
            (
                r#"{"id":"u1","realm_access":"secret-value"}"#,
                AuthErrorKind::MissingClaim,
                "the token has no `realm_access.roles` claim",
            ),
            (
                r#"{"id":12345678,"realm_access":{"roles":[]}}"#,
                AuthErrorKind::InvalidClaim,
                "the `id` claim must be a string",
            ),
            (
                r#"{"id":"u1","realm_access":{"roles":{"secret-value":1}}}"#,
                AuthErrorKind::InvalidClaim,
                "the `realm_access.roles` claim must be a string or an array of strings",
            ),
            (
                r#"{"id":"u1","realm_access":{"roles":["a",987654]}}"#,
                AuthErrorKind::InvalidClaim,
                "the `realm_access.roles` claim must hold only strings",
            ),
        ] {
            let error = parse(&mapping, payload).unwrap_err();
            assert_eq!(error.kind(), kind, "{payload}");
            assert_eq!(error.description(), description, "{payload}");
        }
        let numeric = ClaimMapping::new().subject("id").numeric_subject(true);
        let error = parse(&numeric, r#"{"id":1.5}"#).unwrap_err();
        assert_eq!(
            error.description(),
            "the `id` claim must be a string or an integer"
        );
    }

    #[test]
    fn duplicates_and_registered_claim_rules_still_apply() {
        let mapping = ClaimMapping::new().subject("id");
        let error = parse(&mapping, r#"{"id":"a","id":"b"}"#).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::Malformed);
        let error = parse(&mapping, r#"{"id":"a","exp":"tomorrow"}"#).unwrap_err();
        assert_eq!(error.kind(), AuthErrorKind::InvalidClaim);
    }

    #[test]
    fn empty_paths_are_refused_at_build() {
        for mapping in [
            ClaimMapping::new().subject(""),
            ClaimMapping::new().roles("realm_access..roles"),
            ClaimMapping::new().permissions_at(Vec::<String>::new()),
        ] {
            assert_eq!(
                mapping.check().unwrap_err().kind(),
                ConfigErrorKind::InvalidSetting
            );
        }
        assert!(ClaimMapping::new().is_identity());
        assert!(ClaimMapping::new().roles("role").check().is_ok());
    }
}
