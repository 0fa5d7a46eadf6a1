//! `LISTEN`, `UNLISTEN` and `NOTIFY` between the sessions of one node.
//!
//! A session that runs `LISTEN ch` registers its connection's [`NotificationSink`] for the
//! channel in the node's [`NotificationHub`]. `NOTIFY ch, 'payload'` (or
//! `pg_notify('ch', 'payload')`) queues a notification in the notifying session's
//! transaction; when that transaction commits, the hub hands a copy to every session
//! listening on `ch` at that moment, the notifying one included, as PostgreSQL does.
//!
//! ```text
//!   session A: LISTEN ch ─────────► hub: ch → {A's sink}
//!   session B: BEGIN; NOTIFY ch, 'x'  (queued in B's TxnNotifications)
//!   session B: COMMIT ──publish──► hub ──► A's sink ──► A's connection loop
//!                                           NotificationResponse('A', B's pid, ch, 'x')
//! ```
//!
//! # Transactions
//!
//! - `NOTIFY`s are delivered only if their transaction commits, in the order they were
//!   sent; a rolled-back transaction (or savepoint) drops the ones it queued. Within one
//!   transaction a notification identical to one already queued (same channel and payload)
//!   is dropped, as PostgreSQL 15 does.
//! - `LISTEN` and `UNLISTEN` inside a transaction block take effect when it commits, and
//!   not at all if it rolls back. Outside a block they take effect at once.
//! - A session's listens end with it (and with `UNLISTEN *` or `DISCARD ALL`).
//!
//! # Delivery
//!
//! The wire layer (`pgwire::notify_loop`) writes a session's notifications when the
//! session is idle: just before a ReadyForQuery that reports no transaction, and while the
//! connection waits for the client's next message outside a transaction. A session inside a
//! transaction block gets them after the block ends, as in PostgreSQL.
//!
//! # Limits
//!
//! Delivery is node-local: a session on another node of a cluster does not see them (the
//! cluster has no shared notification queue yet). A listener's queue is unbounded in
//! memory: PostgreSQL bounds its shared queue at 8 GB and fails `NOTIFY` when it is full.

use std::collections::{BTreeSet, HashMap};

use tokio::sync::mpsc;

use crate::error::{SqlError, SqlResult, SqlState};

/// The longest payload PostgreSQL accepts (`NOTIFY` fails with 22023 at this length or more).
pub const MAX_PAYLOAD_BYTES: usize = 8000;

/// The longest channel name: an identifier (NAMEDATALEN - 1).
pub const MAX_CHANNEL_BYTES: usize = 63;

/// One notification as a listener receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The backend pid of the session that sent it.
    pub pid: i32,
    /// The channel.
    pub channel: String,
    /// The payload (empty when none was given).
    pub payload: String,
}

/// Where a connection receives its session's notifications.
pub type NotificationSink = mpsc::UnboundedSender<Notification>;

/// The node's listeners: channel → the sessions (by pid) listening on it.
#[derive(Default)]
pub struct NotificationHub {
    channels: parking_lot::Mutex<HashMap<String, HashMap<i32, NotificationSink>>>,
}

impl NotificationHub {
    /// Session `pid` listens on `channel` (a second LISTEN of the same channel is a no-op).
    pub fn listen(&self, pid: i32, channel: &str, sink: &NotificationSink) {
        self.channels
            .lock()
            .entry(channel.to_string())
            .or_default()
            .insert(pid, sink.clone());
    }

    /// Session `pid` stops listening on `channel`.
    pub fn unlisten(&self, pid: i32, channel: &str) {
        let mut channels = self.channels.lock();
        if let Some(listeners) = channels.get_mut(channel) {
            listeners.remove(&pid);
            if listeners.is_empty() {
                channels.remove(channel);
            }
        }
    }

    /// Delivers committed notifications of session `from` to every session listening on
    /// their channels. A listener whose connection has closed is skipped (its session's
    /// drop unregisters it).
    pub fn publish(&self, from: i32, notes: &[(String, String)]) {
        let channels = self.channels.lock();
        for (channel, payload) in notes {
            let Some(listeners) = channels.get(channel) else {
                continue;
            };
            for sink in listeners.values() {
                // A closed receiver means the connection is going away: nothing to do.
                let _ = sink.send(Notification {
                    pid: from,
                    channel: channel.clone(),
                    payload: payload.clone(),
                });
            }
        }
    }
}

/// A LISTEN or UNLISTEN waiting for its transaction to commit.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ListenChange {
    Listen(String),
    Unlisten(String),
    UnlistenAll,
}

/// What one session's open transaction has queued: listen changes and notifications.
#[derive(Default, Debug)]
pub struct TxnNotifications {
    changes: Vec<ListenChange>,
    notes: Vec<(String, String)>,
}

/// A point in a transaction's queue, for ROLLBACK TO SAVEPOINT.
#[derive(Clone, Copy, Debug)]
pub struct NotifyMark {
    changes: usize,
    notes: usize,
}

impl TxnNotifications {
    /// Queues `NOTIFY channel, payload` after checking both (22023), dropping it if an
    /// identical one is already queued.
    pub fn notify(&mut self, channel: &str, payload: &str) -> SqlResult<()> {
        check_channel(channel)?;
        if payload.len() >= MAX_PAYLOAD_BYTES {
            return Err(SqlError::new(
                SqlState::INVALID_PARAMETER_VALUE,
                "payload string too long",
            ));
        }
        let note = (channel.to_string(), payload.to_string());
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
        Ok(())
    }

    /// The current point of the queue.
    pub fn mark(&self) -> NotifyMark {
        NotifyMark {
            changes: self.changes.len(),
            notes: self.notes.len(),
        }
    }

    /// Forgets what was queued after `mark` (ROLLBACK TO SAVEPOINT).
    pub fn rollback_to(&mut self, mark: NotifyMark) {
        self.changes.truncate(mark.changes);
        self.notes.truncate(mark.notes);
    }

    /// Forgets everything queued (the transaction rolled back).
    pub fn clear(&mut self) {
        self.changes.clear();
        self.notes.clear();
    }
}

/// 22023 for a channel name PostgreSQL refuses.
fn check_channel(channel: &str) -> SqlResult<()> {
    if channel.is_empty() {
        return Err(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "channel name cannot be empty",
        ));
    }
    if channel.len() > MAX_CHANNEL_BYTES {
        return Err(SqlError::new(
            SqlState::INVALID_PARAMETER_VALUE,
            "channel name too long",
        ));
    }
    Ok(())
}

/// The LISTEN state of one session: the channels it listens on, what its open transaction
/// queued, and where its notifications go.
pub struct SessionNotifications {
    pid: i32,
    /// The connection's sink (none for a session without a connection: notifications to it
    /// are dropped).
    sink: Option<NotificationSink>,
    listening: BTreeSet<String>,
    /// Shared with the statements of the session, where `pg_notify` queues.
    pub queued: std::sync::Arc<parking_lot::Mutex<TxnNotifications>>,
}

impl SessionNotifications {
    /// The state of a new session `pid`.
    pub fn new(pid: i32) -> Self {
        SessionNotifications {
            pid,
            sink: None,
            listening: BTreeSet::new(),
            queued: Default::default(),
        }
    }

    /// Creates the channel through which the session's notifications reach its connection.
    pub fn attach(&mut self) -> mpsc::UnboundedReceiver<Notification> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.sink = Some(tx);
        rx
    }

    /// Queues `LISTEN channel`.
    pub fn listen(&self, channel: &str) -> SqlResult<()> {
        check_channel(channel)?;
        self.queued
            .lock()
            .changes
            .push(ListenChange::Listen(channel.to_string()));
        Ok(())
    }

    /// Queues `UNLISTEN channel`, or `UNLISTEN *` when `channel` is `None`.
    pub fn unlisten(&self, channel: Option<&str>) {
        let change = match channel {
            Some(c) => ListenChange::Unlisten(c.to_string()),
            None => ListenChange::UnlistenAll,
        };
        self.queued.lock().changes.push(change);
    }

    /// The transaction ended: on commit its listen changes take effect and its
    /// notifications are delivered; either way the queue is emptied.
    pub fn end_transaction(&mut self, hub: &NotificationHub, committed: bool) {
        let TxnNotifications { changes, notes } = std::mem::take(&mut *self.queued.lock());
        if !committed {
            return;
        }
        for change in changes {
            match change {
                ListenChange::Listen(channel) => {
                    if let Some(sink) = &self.sink {
                        hub.listen(self.pid, &channel, sink);
                    }
                    self.listening.insert(channel);
                }
                ListenChange::Unlisten(channel) => {
                    hub.unlisten(self.pid, &channel);
                    self.listening.remove(&channel);
                }
                ListenChange::UnlistenAll => self.unlisten_all(hub),
            }
        }
        if !notes.is_empty() {
            hub.publish(self.pid, &notes);
        }
    }

    /// Stops listening on every channel (session end, `DISCARD ALL`).
    pub fn unlisten_all(&mut self, hub: &NotificationHub) {
        for channel in std::mem::take(&mut self.listening) {
            hub.unlisten(self.pid, &channel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(pid: i32) -> (SessionNotifications, mpsc::UnboundedReceiver<Notification>) {
        let mut s = SessionNotifications::new(pid);
        let rx = s.attach();
        (s, rx)
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<Notification>) -> Vec<(i32, String, String)> {
        let mut out = Vec::new();
        while let Ok(n) = rx.try_recv() {
            out.push((n.pid, n.channel, n.payload));
        }
        out
    }

    #[test]
    fn committed_notifications_reach_every_listener_in_order_once() {
        let hub = NotificationHub::default();
        let (mut a, mut a_rx) = session(1);
        let (mut b, mut b_rx) = session(2);
        a.listen("ch").expect("a valid channel and payload");
        a.end_transaction(&hub, true);
        {
            let mut q = b.queued.lock();
            q.notify("ch", "x").expect("a valid channel and payload");
            q.notify("other", "y").expect("a valid channel and payload");
            q.notify("ch", "z").expect("a valid channel and payload");
            q.notify("ch", "x").expect("a valid channel and payload");
        }
        assert!(drain(&mut a_rx).is_empty(), "nothing before the commit");
        b.end_transaction(&hub, true);
        assert_eq!(
            drain(&mut a_rx),
            vec![(2, "ch".into(), "x".into()), (2, "ch".into(), "z".into())]
        );
        assert!(drain(&mut b_rx).is_empty(), "b does not listen");
    }

    #[test]
    fn rollback_drops_notifications_and_listens() {
        let hub = NotificationHub::default();
        let (mut a, mut a_rx) = session(1);
        a.listen("ch").expect("a valid channel and payload");
        a.end_transaction(&hub, false);
        a.queued
            .lock()
            .notify("ch", "lost")
            .expect("a valid channel and payload");
        a.end_transaction(&hub, true);
        assert!(drain(&mut a_rx).is_empty(), "the LISTEN rolled back");

        a.listen("ch").expect("a valid channel and payload");
        a.end_transaction(&hub, true);
        let mark = {
            let mut q = a.queued.lock();
            q.notify("ch", "kept").expect("a valid channel and payload");
            let mark = q.mark();
            q.notify("ch", "undone")
                .expect("a valid channel and payload");
            mark
        };
        a.queued.lock().rollback_to(mark);
        a.end_transaction(&hub, true);
        assert_eq!(drain(&mut a_rx), vec![(1, "ch".into(), "kept".into())]);
    }

    #[test]
    fn unlisten_stops_delivery() {
        let hub = NotificationHub::default();
        let (mut a, mut a_rx) = session(1);
        a.listen("x").expect("a valid channel and payload");
        a.listen("y").expect("a valid channel and payload");
        a.end_transaction(&hub, true);
        a.unlisten(Some("x"));
        a.end_transaction(&hub, true);
        let (mut b, _b_rx) = session(2);
        b.queued
            .lock()
            .notify("x", "")
            .expect("a valid channel and payload");
        b.queued
            .lock()
            .notify("y", "")
            .expect("a valid channel and payload");
        b.end_transaction(&hub, true);
        assert_eq!(drain(&mut a_rx), vec![(2, "y".into(), String::new())]);
        a.unlisten(None);
        a.end_transaction(&hub, true);
        b.queued
            .lock()
            .notify("y", "again")
            .expect("a valid channel and payload");
        b.end_transaction(&hub, true);
        assert!(drain(&mut a_rx).is_empty());
        assert!(hub.channels.lock().is_empty(), "no listener left behind");
    }

    #[test]
    fn bad_channels_and_payloads_are_22023() {
        let mut q = TxnNotifications::default();
        for (channel, payload) in [
            ("", "p"),
            (&"c".repeat(MAX_CHANNEL_BYTES + 1)[..], "p"),
            ("c", &"p".repeat(MAX_PAYLOAD_BYTES)[..]),
        ] {
            let e = q.notify(channel, payload).expect_err("refused");
            assert_eq!(e.state, SqlState::INVALID_PARAMETER_VALUE);
        }
        assert!(q.notify("c", &"p".repeat(MAX_PAYLOAD_BYTES - 1)).is_ok());
    }
}
