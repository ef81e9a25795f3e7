//! What a collector's services record and serve, shared with the handle that reads it.

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::Received;

#[derive(Debug, Clone)]
pub(super) struct DynamicConfiguration {
    pub(super) uuid: String,
    pub(super) values: Vec<(String, String)>,
}

#[derive(Default)]
pub(super) struct State {
    pub(super) received: Mutex<Received>,
    pub(super) arrived: Condvar,
    pub(super) configuration: Mutex<Option<DynamicConfiguration>>,
}

impl State {
    pub(super) fn lock(&self) -> MutexGuard<'_, Received> {
        self.received.lock()
    }

    pub(super) fn record(&self, change: impl FnOnce(&mut Received)) {
        change(&mut self.lock());
        self.arrived.notify_all();
    }
}

impl DynamicConfiguration {
    pub(super) fn new<K: Into<String>, V: Into<String>>(
        uuid: impl Into<String>,
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        DynamicConfiguration {
            uuid: uuid.into(),
            values: values
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        }
    }
}
