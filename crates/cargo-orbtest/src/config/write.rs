//! Writing a config back out with every setting explicit (`cargo orbtest list`, round-trip tests).

use std::time::Duration;

use toml::{Table, Value};

/// Builds one TOML table, keys in insertion order.
#[derive(Default)]
pub(crate) struct Writer {
    pub(crate) table: Table,
}

impl Writer {
    pub(crate) fn string(&mut self, key: &str, value: &str) {
        self.table.insert(key.into(), Value::String(value.into()));
    }

    pub(crate) fn integer(&mut self, key: &str, value: i64) {
        self.table.insert(key.into(), Value::Integer(value));
    }

    pub(crate) fn float(&mut self, key: &str, value: f64) {
        self.table.insert(key.into(), Value::Float(value));
    }

    pub(crate) fn bool(&mut self, key: &str, value: bool) {
        self.table.insert(key.into(), Value::Boolean(value));
    }

    pub(crate) fn strings(&mut self, key: &str, values: &[String]) {
        let items = values.iter().map(|v| Value::String(v.clone())).collect();
        self.table.insert(key.into(), Value::Array(items));
    }

    pub(crate) fn inline_table(&mut self, key: &str, build: impl FnOnce(&mut Writer)) {
        let mut inner = Writer::default();
        build(&mut inner);
        self.table.insert(key.into(), Value::Table(inner.table));
    }

    pub(crate) fn tables(&mut self, key: &str, items: Vec<Writer>) {
        let items = items.into_iter().map(|w| Value::Table(w.table)).collect();
        self.table.insert(key.into(), Value::Array(items));
    }
}

/// A duration as the config spells it ("300s", "5m", "1h 30m", "250ms").
pub fn duration_string(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    humantime::format_duration(d).to_string()
}
