//! Latches: short-lived, span-based mutual exclusion during evaluation and apply.
//!
//! A request holds latches on every span it touches from the moment it starts evaluating
//! until its writes are applied; two requests whose spans overlap and at least one of which
//! writes never evaluate at the same time. Latches are never held while waiting on a
//! transaction's lock (see the lock table), so they cannot deadlock: a request acquires all
//! of its latches at once or none.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tessera_api::keys::Span;
use tokio::sync::Notify;

/// The latches of one range.
#[derive(Default)]
pub struct LatchManager {
    state: Mutex<LatchState>,
    released: Notify,
}

#[derive(Default)]
struct LatchState {
    next_id: u64,
    held: HashMap<u64, Vec<(Span, bool)>>,
}

impl LatchState {
    fn conflicts(&self, wanted: &[(Span, bool)]) -> bool {
        self.held.values().flatten().any(|(held, held_write)| {
            wanted
                .iter()
                .any(|(span, write)| (*write || *held_write) && span.overlaps(held))
        })
    }
}

/// Held latches; released when dropped.
pub struct LatchGuard {
    manager: Arc<LatchManager>,
    id: u64,
}

impl Drop for LatchGuard {
    fn drop(&mut self) {
        self.manager.state.lock().held.remove(&self.id);
        self.manager.released.notify_waiters();
    }
}

impl LatchManager {
    /// Waits until no held latch conflicts with `spans` (`(span, is_write)`), then takes them
    /// all at once.
    pub async fn acquire(self: &Arc<Self>, spans: Vec<(Span, bool)>) -> LatchGuard {
        loop {
            let notified = self.released.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.state.lock();
                if !state.conflicts(&spans) {
                    state.next_id += 1;
                    let id = state.next_id;
                    state.held.insert(id, spans);
                    return LatchGuard {
                        manager: Arc::clone(self),
                        id,
                    };
                }
            }
            notified.await;
        }
    }

    /// How many requests hold latches (for tests and metrics).
    pub fn held(&self) -> usize {
        self.state.lock().held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn writers_on_overlapping_spans_exclude_each_other() {
        let m = Arc::new(LatchManager::default());
        let a = m.acquire(vec![(Span::point(b"k".to_vec()), true)]).await;
        let reader = m.acquire(vec![(Span::range(b"a".to_vec(), b"z".to_vec()), false)]);
        tokio::pin!(reader);
        assert!(
            tokio::time::timeout(Duration::from_millis(20), &mut reader)
                .await
                .is_err(),
            "reader must wait"
        );
        drop(a);
        let _r = tokio::time::timeout(Duration::from_secs(5), reader)
            .await
            .expect("reader proceeds after release");
        // Readers share.
        let _r2 = tokio::time::timeout(
            Duration::from_secs(5),
            m.acquire(vec![(Span::point(b"k".to_vec()), false)]),
        )
        .await
        .expect("two readers share");
        // Disjoint writers do not wait.
        let _w = tokio::time::timeout(
            Duration::from_secs(5),
            m.acquire(vec![(Span::point(b"zz".to_vec()), true)]),
        )
        .await
        .expect("disjoint writer");
    }
}
