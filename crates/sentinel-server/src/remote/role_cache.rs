//! The roles a server looked up, each kept for a while so that IAM is not asked on every
//! request: bounded (when full, expired entries make room, and a look-up that finds no room is
//! answered without being kept) and with a TTL. A failed look-up is never kept: the next request
//! asks again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use sentinel_core::roles::{Role, RoleDirectory, RoleLookupError};

/// How many roles a server keeps at most.
pub const MAX_CACHED_ROLES: usize = 10_000;

/// Roles by account and name, for at most a TTL each.
pub struct RoleCache {
    directory: Arc<dyn RoleDirectory>,
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<(String, String), (Instant, Role)>>,
}

impl RoleCache {
    /// A cache of `directory`'s answers, each kept for `ttl`, at most `capacity` of them.
    pub fn new(directory: Arc<dyn RoleDirectory>, ttl: Duration, capacity: usize) -> RoleCache {
        RoleCache {
            directory,
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// Role `name` of `account`: as looked up less than the TTL ago, or looked up now.
    pub async fn role(&self, account: &str, name: &str) -> Result<Role, RoleLookupError> {
        let key = (account.to_owned(), name.to_owned());
        if let Some(role) = self.fresh(&key) {
            return Ok(role);
        }
        let role = self.directory.role(account, name).await?;
        self.keep(key, role.clone());
        Ok(role)
    }

    /// The entries, also after a panic elsewhere (each is whole: one insert or removal).
    fn entries(&self) -> MutexGuard<'_, HashMap<(String, String), (Instant, Role)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The entry for `key`, if it is younger than the TTL.
    fn fresh(&self, key: &(String, String)) -> Option<Role> {
        let entries = self.entries();
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, role)| role.clone())
    }

    /// Keeps `role` under `key`, making room by dropping expired entries when full.
    fn keep(&self, key: (String, String), role: Role) {
        let mut entries = self.entries();
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        if entries.len() < self.capacity || entries.contains_key(&key) {
            entries.insert(key, (Instant::now(), role));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A directory that counts its look-ups and answers with the count in the role ID.
    struct Counting(AtomicUsize);

    #[async_trait::async_trait]
    impl RoleDirectory for Counting {
        async fn role(&self, account: &str, name: &str) -> Result<Role, RoleLookupError> {
            let count = self.0.fetch_add(1, Ordering::SeqCst);
            if name == "missing" {
                return Err(RoleLookupError::NotFound {
                    account: account.into(),
                    name: name.into(),
                });
            }
            Ok(Role {
                arn: format!("arn:aws:iam::{account}:role/{name}"),
                role_id: format!("AROA{count}"),
            })
        }
    }

    fn cache(ttl: Duration, capacity: usize) -> (Arc<Counting>, RoleCache) {
        let directory = Arc::new(Counting(AtomicUsize::new(0)));
        let cache = RoleCache::new(Arc::clone(&directory) as _, ttl, capacity);
        (directory, cache)
    }

    #[tokio::test]
    async fn an_answer_is_kept_for_the_ttl_and_a_failure_is_not_kept() {
        let (directory, cache) = cache(Duration::from_secs(60), 10);
        let first = cache.role("111122223333", "a").await.expect("role");
        assert_eq!(cache.role("111122223333", "a").await.expect("role"), first);
        assert_eq!(directory.0.load(Ordering::SeqCst), 1);
        for _ in 0..2 {
            assert!(cache.role("111122223333", "missing").await.is_err());
        }
        assert_eq!(directory.0.load(Ordering::SeqCst), 3);
        let (directory, expiring) = self::cache(Duration::ZERO, 10);
        expiring.role("111122223333", "a").await.expect("role");
        expiring.role("111122223333", "a").await.expect("role");
        assert_eq!(directory.0.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_full_cache_keeps_no_more_and_still_answers() {
        let (directory, cache) = cache(Duration::from_secs(60), 2);
        for name in ["a", "b", "c", "c"] {
            cache.role("111122223333", name).await.expect("role");
        }
        // "c" found no room, so it was asked for twice; "a" and "b" are still kept.
        assert_eq!(directory.0.load(Ordering::SeqCst), 4);
        cache.role("111122223333", "a").await.expect("role");
        assert_eq!(directory.0.load(Ordering::SeqCst), 4);
    }
}
