//! The one expiring table behind every map of the memory store.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::SystemTime;

use crate::store::{StoreError, StoreErrorKind};

/// Below this size a table is never scanned for expired entries unless it is
/// full: scanning a small table buys nothing.
pub(super) const MIN_PURGE_LEN: usize = 1024;

/// Entries that stop mattering at an instant of their own, bounded in number.
///
/// An entry expiring at `at` is live while `now < at`; `None` never expires.
/// An expired entry is never returned by [`get`](Self::get) or
/// [`get_mut`](Self::get_mut), and is forgotten by the next purge. Purges
/// happen lazily as new keys arrive: when the table has grown to
/// `next_purge_len` (at least [`MIN_PURGE_LEN`], then twice what survived the
/// last purge), and when it is full. A full table of live entries refuses a
/// new key with [`StoreErrorKind::CapacityExceeded`] rather than forget one.
///
/// `T` is the clock: [`SystemTime`] for revocations and families, `Instant`
/// for throttle windows.
pub(super) struct ExpiringTable<K, V, T = SystemTime> {
    entries: HashMap<K, Entry<V, T>>,
    max: usize,
    /// No entry expires before this instant (a lower bound, not always
    /// exact); `None` when no entry expires. While `now` is before it a purge
    /// would free nothing, so none is tried: a full table refuses without a
    /// scan.
    none_expires_before: Option<T>,
    /// Below `max`, the table is scanned only once it reaches this size.
    next_purge_len: usize,
}

/// A value and when it expires.
pub(super) struct Entry<V, T> {
    pub(super) value: V,
    /// Only ever moved later while in the table, so that
    /// `none_expires_before` stays a lower bound without being told.
    expires_at: Option<T>,
}

impl<V, T: Ord + Copy> Entry<V, T> {
    /// When the entry expires; `None`: never.
    pub(super) fn expires_at(&self) -> Option<T> {
        self.expires_at
    }

    /// Keeps the entry at least until `at`; never shortens it.
    pub(super) fn extend_to(&mut self, at: T) {
        if let Some(current) = &mut self.expires_at {
            *current = (*current).max(at);
        }
    }

    fn is_live(&self, now: T) -> bool {
        is_live(self.expires_at, now)
    }
}

/// Whether something expiring at `expires_at` (`None`: never) still matters
/// at `now`.
pub(super) fn is_live<T: Ord>(expires_at: Option<T>, now: T) -> bool {
    expires_at.is_none_or(|at| now < at)
}

impl<K: Hash + Eq, V, T: Ord + Copy> ExpiringTable<K, V, T> {
    /// An empty table holding at most `max` live entries.
    pub(super) fn new(max: usize) -> Self {
        Self {
            entries: HashMap::new(),
            max,
            none_expires_before: None,
            next_purge_len: MIN_PURGE_LEN,
        }
    }

    /// How many entries the table holds, expired ones not yet purged
    /// included.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The most live entries the table holds.
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// The live value under `key`. The clock is read only on a hit, so a
    /// miss costs one hash lookup and nothing else.
    pub(super) fn get<Q>(&self, key: &Q, now: impl FnOnce() -> T) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let entry = self.entries.get(key)?;
        entry.is_live(now()).then_some(&entry.value)
    }

    /// The live entry under `key`, to update in place.
    pub(super) fn get_mut<Q>(&mut self, key: &Q, now: T) -> Option<&mut Entry<V, T>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key).filter(|entry| entry.is_live(now))
    }

    /// The entry under `key`, live or expired but not yet purged.
    pub(super) fn peek_mut<Q>(&mut self, key: &Q) -> Option<&mut Entry<V, T>>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get_mut(key)
    }

    /// Puts `value` under `key`, expiring at `expires_at`.
    ///
    /// A key already held needs no free slot: its entry is replaced when it
    /// has expired, or when `replaces_live(held value, held expiry)` says so;
    /// otherwise it is kept. A new key needs one (see
    /// [`make_room`](Self::make_room)).
    pub(super) fn upsert<Q>(
        &mut self,
        key: &Q,
        value: V,
        expires_at: Option<T>,
        now: T,
        replaces_live: impl FnOnce(&V, Option<T>) -> bool,
    ) -> Result<(), StoreError>
    where
        K: Borrow<Q> + for<'q> From<&'q Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(held) = self.entries.get_mut(key) {
            if !held.is_live(now) || replaces_live(&held.value, held.expires_at) {
                *held = Entry { value, expires_at };
                note_expiry(&mut self.none_expires_before, expires_at);
            }
            return Ok(());
        }
        self.make_room(now)?;
        self.put(K::from(key), value, expires_at);
        Ok(())
    }

    /// Puts `value` under `key`, expiring at `expires_at`, counting `key` as
    /// new: it needs a free slot (see [`make_room`](Self::make_room)) even
    /// if held, and replaces what it held.
    pub(super) fn insert(
        &mut self,
        key: K,
        value: V,
        expires_at: Option<T>,
        now: T,
    ) -> Result<(), StoreError> {
        self.make_room(now)?;
        self.put(key, value, expires_at);
        Ok(())
    }

    /// Removes the entry under `key`, live or not.
    pub(super) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.remove(key).map(|entry| entry.value)
    }

    /// Makes sure one more key fits: purges when the table is full or has
    /// grown to `next_purge_len`, then fails, changing nothing else, when
    /// every one of `max` slots still holds a live entry.
    fn make_room(&mut self, now: T) -> Result<(), StoreError> {
        let len = self.entries.len();
        if len >= self.max || len >= self.next_purge_len {
            self.purge(now);
        }
        if self.entries.len() >= self.max {
            return Err(StoreError::new(StoreErrorKind::CapacityExceeded));
        }
        Ok(())
    }

    fn put(&mut self, key: K, value: V, expires_at: Option<T>) {
        self.entries.insert(key, Entry { value, expires_at });
        note_expiry(&mut self.none_expires_before, expires_at);
    }

    /// Forgets every entry expired at `now`, unless none can have expired
    /// yet: then it costs nothing.
    pub(super) fn purge(&mut self, now: T) {
        if self.none_expires_before.is_none_or(|at| now < at) {
            return;
        }
        self.entries.retain(|_, entry| entry.is_live(now));
        self.none_expires_before = self.entries.values().filter_map(Entry::expires_at).min();
        self.next_purge_len = self.entries.len().saturating_mul(2).max(MIN_PURGE_LEN);
        // Give back the memory of a burst that has since expired.
        if self.entries.capacity() > self.next_purge_len.saturating_mul(2) {
            self.entries.shrink_to(self.next_purge_len);
        }
    }
}

fn note_expiry<T: Ord + Copy>(none_expires_before: &mut Option<T>, expires_at: Option<T>) {
    if let Some(at) = expires_at {
        *none_expires_before = Some(none_expires_before.map_or(at, |earliest| earliest.min(at)));
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::cmp::Ordering;

    use super::*;

    thread_local! {
        static COMPARISONS: Cell<usize> = const { Cell::new(0) };
    }

    /// A clock that counts how often it is compared, to tell a scan of the
    /// table from none.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Tick(u64);

    impl Ord for Tick {
        fn cmp(&self, other: &Self) -> Ordering {
            COMPARISONS.with(|n| n.set(n.get() + 1));
            self.0.cmp(&other.0)
        }
    }

    impl PartialOrd for Tick {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }

    fn comparisons_during(f: impl FnOnce()) -> usize {
        let before = COMPARISONS.with(Cell::get);
        f();
        COMPARISONS.with(Cell::get) - before
    }

    type Table = ExpiringTable<Box<str>, u32, Tick>;

    fn put(table: &mut Table, key: &str, expires_at: u64, now: u64) -> Result<(), StoreError> {
        table.upsert(key, 0, Some(Tick(expires_at)), Tick(now), |_, _| false)
    }

    fn is_capacity_exceeded(result: Result<(), StoreError>) -> bool {
        result.is_err_and(|e| e.kind() == StoreErrorKind::CapacityExceeded)
    }

    #[test]
    fn an_entry_is_live_until_its_instant_and_then_hidden() {
        let mut table = Table::new(10);
        put(&mut table, "a", 10, 0).unwrap();

        assert!(table.get("a", || Tick(9)).is_some());
        assert!(table.get("a", || Tick(10)).is_none());
        assert!(table.get_mut("a", Tick(9)).is_some());
        assert!(table.get_mut("a", Tick(10)).is_none());
        // Expired but not purged: still there for peek_mut and len.
        assert!(table.peek_mut("a").is_some());
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_miss_never_reads_the_clock() {
        let table = Table::new(10);
        assert!(
            table
                .get("absent", || panic!("clock read on a miss"))
                .is_none()
        );
    }

    #[test]
    fn expired_entries_are_purged_once_the_table_grows() {
        let mut table = Table::new(usize::MAX);
        for i in 0..MIN_PURGE_LEN {
            put(&mut table, &format!("old-{i}"), 10, 0).unwrap();
        }
        assert_eq!(table.len(), MIN_PURGE_LEN);

        put(&mut table, "new", 100, 10).unwrap();
        assert_eq!(table.len(), 1);
        // What survived sets the next threshold, never below the minimum.
        assert_eq!(table.next_purge_len, MIN_PURGE_LEN);
    }

    #[test]
    fn the_purge_threshold_doubles_with_what_survives() {
        let mut table = Table::new(usize::MAX);
        for i in 0..MIN_PURGE_LEN {
            put(&mut table, &format!("live-{i}"), 100, 0).unwrap();
        }
        put(&mut table, "expired", 1, 0).unwrap();
        // The key after it triggers a purge at 2 that frees one entry.
        put(&mut table, "trigger", 100, 2).unwrap();
        assert_eq!(table.len(), MIN_PURGE_LEN + 1);
        assert_eq!(table.next_purge_len, 2 * MIN_PURGE_LEN);
    }

    #[test]
    fn a_small_table_below_capacity_is_not_scanned() {
        let mut table = Table::new(usize::MAX);
        put(&mut table, "a", 1, 0).unwrap();
        put(&mut table, "b", 100, 50).unwrap();
        // Below MIN_PURGE_LEN, the expired "a" stays until a purge.
        assert_eq!(table.len(), 2);
        table.purge(Tick(50));
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn a_full_table_refuses_a_new_key_and_keeps_every_live_one() {
        let mut table = Table::new(2);
        put(&mut table, "a", 100, 0).unwrap();
        put(&mut table, "b", 100, 0).unwrap();

        assert!(is_capacity_exceeded(put(&mut table, "c", 100, 0)));
        assert!(is_capacity_exceeded(table.insert(
            "c".into(),
            0,
            Some(Tick(100)),
            Tick(0)
        )));
        assert!(table.get("a", || Tick(0)).is_some());
        assert!(table.get("b", || Tick(0)).is_some());
        assert!(table.get("c", || Tick(0)).is_none());
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn a_held_key_needs_no_free_slot_through_upsert() {
        let mut table = Table::new(2);
        put(&mut table, "a", 10, 0).unwrap();
        put(&mut table, "b", 100, 0).unwrap();

        // Live and kept.
        table
            .upsert("b", 7, Some(Tick(200)), Tick(0), |_, _| false)
            .unwrap();
        assert_eq!(table.get("b", || Tick(0)), Some(&0));
        // Live and replaced.
        table
            .upsert("b", 7, Some(Tick(200)), Tick(0), |held, until| {
                *held == 0 && until == Some(Tick(100))
            })
            .unwrap();
        assert_eq!(table.get("b", || Tick(150)), Some(&7));
        // Expired: replaced whatever the closure says.
        table
            .upsert("a", 9, Some(Tick(300)), Tick(20), |_, _| false)
            .unwrap();
        assert_eq!(table.get("a", || Tick(20)), Some(&9));
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn insert_counts_a_held_key_as_new() {
        let mut table = Table::new(1);
        table
            .insert("a".into(), 1, Some(Tick(100)), Tick(0))
            .unwrap();
        assert!(is_capacity_exceeded(table.insert(
            "a".into(),
            2,
            Some(Tick(100)),
            Tick(0)
        )));
        assert_eq!(table.get("a", || Tick(0)), Some(&1));
    }

    #[test]
    fn a_full_table_makes_room_once_an_entry_expires() {
        let mut table = Table::new(2);
        put(&mut table, "a", 10, 0).unwrap();
        put(&mut table, "b", 100, 0).unwrap();
        assert!(is_capacity_exceeded(put(&mut table, "c", 100, 9)));

        put(&mut table, "c", 100, 10).unwrap();
        assert!(table.peek_mut("a").is_none());
        assert_eq!(table.len(), 2);
    }

    #[test]
    fn a_full_table_refuses_without_a_scan_until_something_can_have_expired() {
        let n = 1000;
        let mut table = Table::new(n);
        for i in 0..n {
            put(&mut table, &format!("k-{i}"), 100, 0).unwrap();
        }
        // The first refusal at 50 may scan; none after it until 100.
        assert!(is_capacity_exceeded(put(&mut table, "x", 200, 50)));
        for now in 50..100 {
            let compared = comparisons_during(|| {
                assert!(is_capacity_exceeded(put(&mut table, "x", 200, now)));
            });
            assert!(compared < 10, "{compared} comparisons at {now}: a scan");
        }
        put(&mut table, "x", 200, 100).unwrap();
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn an_entry_added_after_a_purge_can_make_room_before_the_survivors_expire() {
        let mut table = Table::new(3);
        put(&mut table, "a", 10, 0).unwrap();
        put(&mut table, "b", 1000, 0).unwrap();
        put(&mut table, "c", 1000, 0).unwrap();
        // Purges "a"; the survivors expire at 1000.
        put(&mut table, "d", 30, 20).unwrap();

        // "d" has expired: the table must see it although the survivors of
        // the last purge have not.
        put(&mut table, "e", 1000, 40).unwrap();
        assert!(table.peek_mut("d").is_none());
    }

    #[test]
    fn an_entry_that_never_expires_is_never_purged() {
        let mut table = Table::new(1);
        table.upsert("a", 0, None, Tick(0), |_, _| false).unwrap();

        let compared = comparisons_during(|| {
            assert!(is_capacity_exceeded(put(&mut table, "b", 10, u64::MAX)));
        });
        assert_eq!(compared, 0, "a table with nothing that expires was scanned");
        assert!(table.get("a", || Tick(u64::MAX)).is_some());
    }

    #[test]
    fn extending_an_entry_never_shortens_it() {
        let mut table = Table::new(2);
        put(&mut table, "a", 100, 0).unwrap();
        table
            .upsert("forever", 0, None, Tick(0), |_, _| false)
            .unwrap();

        let entry = table.get_mut("a", Tick(0)).unwrap();
        entry.extend_to(Tick(50));
        assert_eq!(entry.expires_at(), Some(Tick(100)));
        entry.extend_to(Tick(200));
        assert_eq!(entry.expires_at(), Some(Tick(200)));

        let forever = table.get_mut("forever", Tick(0)).unwrap();
        forever.extend_to(Tick(200));
        assert_eq!(forever.expires_at(), None);
    }

    #[test]
    fn remove_forgets_live_and_expired_entries() {
        let mut table = Table::new(2);
        put(&mut table, "a", 100, 0).unwrap();
        put(&mut table, "b", 10, 0).unwrap();

        assert_eq!(table.remove("a"), Some(0));
        assert_eq!(table.remove("b"), Some(0));
        assert_eq!(table.remove("b"), None);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn a_purge_gives_back_the_memory_of_an_expired_burst() {
        let mut table = Table::new(usize::MAX);
        for i in 0..8 * MIN_PURGE_LEN {
            put(&mut table, &format!("burst-{i}"), 10, 0).unwrap();
        }
        table.purge(Tick(10));
        assert_eq!(table.len(), 0);
        assert!(table.entries.capacity() <= 2 * MIN_PURGE_LEN);
    }
}
