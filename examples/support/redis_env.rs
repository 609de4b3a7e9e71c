//! The revocation store's Redis, from `REDIS_URL` (one Redis),
//! `REDIS_CLUSTER_URLS` (a comma-separated list of cluster nodes) or
//! `REDIS_SENTINEL_URLS` (a comma-separated list of Sentinels) with
//! `REDIS_SENTINEL_MASTER` (the name of the master they watch).

use jwt_guard::store::redis::RedisConfig;

/// `None` when no variable is set (the example keeps its state in memory);
/// an error when more than one topology is named, or Sentinels without the
/// master's name (or the name without Sentinels).
pub fn from_env() -> Result<Option<RedisConfig>, String> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let list = |urls: String| -> Vec<String> {
        urls.split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let master = set("REDIS_SENTINEL_MASTER");
    match (
        set("REDIS_URL"),
        set("REDIS_CLUSTER_URLS"),
        set("REDIS_SENTINEL_URLS"),
    ) {
        (None, None, None) if master.is_some() => {
            Err("REDIS_SENTINEL_MASTER is set without REDIS_SENTINEL_URLS".to_owned())
        }
        (None, None, None) => Ok(None),
        (Some(url), None, None) => Ok(Some(RedisConfig::url(url))),
        (None, Some(urls), None) => Ok(Some(RedisConfig::cluster(list(urls)))),
        (None, None, Some(urls)) => match master {
            Some(master) => Ok(Some(RedisConfig::sentinel(list(urls), master))),
            None => Err(
                "REDIS_SENTINEL_URLS needs REDIS_SENTINEL_MASTER, the name of the master"
                    .to_owned(),
            ),
        },
        _ => Err(
            "set one of REDIS_URL, REDIS_CLUSTER_URLS and REDIS_SENTINEL_URLS, not several"
                .to_owned(),
        ),
    }
}
