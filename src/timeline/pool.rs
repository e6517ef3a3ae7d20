//! A model of one urllib3 `HTTPConnectionPool`, used to tell which pooled
//! connection an attempt most likely ran on and how long it had sat idle.
//!
//! urllib3 keeps a `LifoQueue` of `maxsize` slots, filled with `None` at
//! start. `_get_conn` pops the top slot (a `None` means "open a new
//! connection"); a connection is put back on top when its response has been
//! read, and a `None` is put back instead when the connection was closed
//! after an error. So the connection handed out is the one returned most
//! recently, which can have sat idle far longer than the thread asking for it.
//!
//! Assumptions, reported with the results: one client (one pool) per host per
//! log stream, botocore's default `max_pool_connections` of 10, and a
//! connection returned at the time its response status line was logged.

/// A connection sitting in the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PooledConn {
    /// urllib3's connection number, when the log showed its creation.
    pub number: Option<u32>,
    /// When it was returned to the pool (ms), if the log has times.
    pub returned_ms: Option<i64>,
}

/// The LIFO pool model for one host.
#[derive(Debug, Clone)]
pub struct Pool {
    slots: Vec<Option<PooledConn>>,
    max: usize,
}

/// botocore's default `max_pool_connections`.
pub const DEFAULT_POOL_SIZE: usize = 10;

impl Default for Pool {
    fn default() -> Self {
        Pool::new(DEFAULT_POOL_SIZE)
    }
}

impl Pool {
    /// A pool of `max` empty slots, as urllib3 creates it.
    pub fn new(max: usize) -> Self {
        Pool { slots: vec![None; max], max }
    }

    /// Takes the top slot: `Some` is the connection urllib3 would reuse,
    /// `None` means it would open a new one.
    pub fn checkout(&mut self) -> Option<PooledConn> {
        self.slots.pop().flatten()
    }

    /// Undoes a checkout the log contradicted (it showed a new connection
    /// where the model expected a reuse): the connection goes back on top.
    pub fn undo_checkout(&mut self, conn: PooledConn) {
        // The slot urllib3 really took was a `None`; drop one if present.
        if let Some(i) = self.slots.iter().rposition(|s| s.is_none()) {
            self.slots.remove(i);
        }
        self.slots.push(Some(conn));
    }

    /// Returns a connection after a completed response.
    pub fn checkin(&mut self, conn: PooledConn) {
        if self.slots.len() < self.max {
            self.slots.push(Some(conn));
        }
    }

    /// Returns an empty slot after a connection was closed on error.
    pub fn discard(&mut self) {
        if self.slots.len() < self.max {
            self.slots.push(None);
        }
    }

    /// urllib3 logged "Connection pool is full, discarding connection": the
    /// last checkin did not really happen.
    pub fn drop_last_checkin(&mut self) {
        if let Some(i) = self.slots.iter().rposition(|s| s.is_some()) {
            self.slots.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u32, t: i64) -> PooledConn {
        PooledConn { number: Some(n), returned_ms: Some(t) }
    }

    #[test]
    fn most_recently_returned_connection_is_reused_first() {
        let mut p = Pool::new(10);
        assert_eq!(p.checkout(), None);
        assert_eq!(p.checkout(), None);
        p.checkin(c(1, 100));
        p.checkin(c(2, 200));
        assert_eq!(p.checkout(), Some(c(2, 200)));
        p.checkin(c(2, 300));
        assert_eq!(p.checkout(), Some(c(2, 300)));
        assert_eq!(p.checkout(), Some(c(1, 100)));
        assert_eq!(p.checkout(), None);
    }

    #[test]
    fn discarded_connection_leaves_an_empty_slot_on_top() {
        let mut p = Pool::new(10);
        p.checkout();
        p.checkin(c(1, 100));
        p.checkout();
        p.discard();
        assert_eq!(p.checkout(), None);
    }
}
