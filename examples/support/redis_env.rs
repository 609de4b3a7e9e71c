//! The revocation store's Redis, from `REDIS_URL` (one Redis) or
//! `REDIS_CLUSTER_URLS` (a comma-separated list of cluster nodes).

use jwt_guard::store::redis::RedisConfig;

/// `None` when neither variable is set (the example keeps its state in
/// memory); an error when both are.
pub fn from_env() -> Result<Option<RedisConfig>, String> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (set("REDIS_URL"), set("REDIS_CLUSTER_URLS")) {
        (Some(_), Some(_)) => Err("set REDIS_URL or REDIS_CLUSTER_URLS, not both".to_owned()),
        (Some(url), None) => Ok(Some(RedisConfig::url(url))),
        (None, Some(urls)) => Ok(Some(RedisConfig::cluster(
            urls.split(',').map(str::trim).filter(|u| !u.is_empty()),
        ))),
        (None, None) => Ok(None),
    }
}
