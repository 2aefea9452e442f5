//! A shutdown signal shared by every task: one [`ShutdownTrigger`], any number of [`Shutdown`]
//! listeners. Built on `tokio::sync::watch`, so a listener created after the trigger fired
//! still sees it.

use tokio::sync::watch;

/// Fires the shutdown. Dropping it also counts as a shutdown request, so a listener never
/// waits forever on a trigger that is gone.
#[derive(Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

/// Waits for shutdown. Cheap to clone; hand one to each task.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

/// A new trigger and its first listener.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (ShutdownTrigger(tx), Shutdown(rx))
}

impl ShutdownTrigger {
    /// Asks every listener to stop. Idempotent.
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Another listener.
    pub fn subscribe(&self) -> Shutdown {
        Shutdown(self.0.subscribe())
    }
}

impl Shutdown {
    /// Completes once shutdown was requested (or the trigger was dropped).
    pub async fn requested(&mut self) {
        // An error means the trigger is gone, which is a shutdown too.
        let _ = self.0.wait_for(|stop| *stop).await;
    }

    /// Whether shutdown was already requested.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listeners_see_trigger_and_drop() {
        let (trigger, mut a) = channel();
        let mut b = trigger.subscribe();
        assert!(!a.is_requested());
        trigger.trigger();
        a.requested().await;
        b.requested().await;
        assert!(a.is_requested());
        let late = trigger.subscribe();
        assert!(late.is_requested());

        let (trigger, mut c) = channel();
        drop(trigger);
        c.requested().await;
        assert!(!c.is_requested());
    }
}
