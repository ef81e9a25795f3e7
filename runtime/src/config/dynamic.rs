//! The configuration a collector sends while the agent runs, and how it changes [`LiveSettings`].

use std::collections::BTreeMap;

use super::LiveSettings;

/// The dynamic configuration a collector sent (`ConfigurationDiscoveryCommand`).
///
/// ```
/// use rust2sky::config::DynamicConfig;
///
/// let config = DynamicConfig::new("v1", [("agent.sample_rate", "0.5")]);
/// assert_eq!(config.uuid(), "v1");
/// assert_eq!(config.sample_rate(), Some(0.5));
/// assert_eq!(config.get("agent.ignore_suffix"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DynamicConfig {
    uuid: String,
    values: BTreeMap<String, String>,
}

impl DynamicConfig {
    /// The key of the sample rate (a number from 0 to 1, as [`Config::sample_rate`](super::Config::sample_rate)).
    ///
    /// ```
    /// use rust2sky::config::DynamicConfig;
    ///
    /// let config = DynamicConfig::new("v1", [(DynamicConfig::SAMPLE_RATE, "0.5")]);
    /// assert_eq!(config.sample_rate(), Some(0.5));
    /// ```
    pub const SAMPLE_RATE: &'static str = "agent.sample_rate";
    /// The key of the span limit per segment (a positive integer, as [`Config::span_limit`](super::Config::span_limit)).
    ///
    /// ```
    /// use rust2sky::config::DynamicConfig;
    ///
    /// let config = DynamicConfig::new("v1", [(DynamicConfig::SPAN_LIMIT, "100")]);
    /// assert_eq!(config.span_limit(), Some(100));
    /// ```
    pub const SPAN_LIMIT: &'static str = "agent.span_limit_per_segment";
    /// The key of the ignored suffixes (comma-separated, as [`Config::ignore_suffixes`](super::Config::ignore_suffixes)).
    ///
    /// ```
    /// use rust2sky::config::DynamicConfig;
    ///
    /// let config = DynamicConfig::new("v1", [(DynamicConfig::IGNORE_SUFFIX, ".png,.ico")]);
    /// assert_eq!(config.ignore_suffixes(), Some(vec![".png".to_owned(), ".ico".to_owned()]));
    /// ```
    pub const IGNORE_SUFFIX: &'static str = "agent.ignore_suffix";
    /// The key of the ignored paths (comma-separated Ant patterns, as
    /// [`Config::trace_ignore_paths`](super::Config::trace_ignore_paths)).
    ///
    /// ```
    /// use rust2sky::config::DynamicConfig;
    ///
    /// let config = DynamicConfig::new("v1", [(DynamicConfig::TRACE_IGNORE_PATH, "/health")]);
    /// assert_eq!(config.trace_ignore_paths(), Some(vec!["/health".to_owned()]));
    /// ```
    pub const TRACE_IGNORE_PATH: &'static str = "agent.trace.ignore_path";
    /// The keys rust2sky applies live (the Java agent's names); others are kept in
    /// [`Transport::dynamic_config`](crate::reporter::Transport::dynamic_config) and logged once.
    ///
    /// ```
    /// use rust2sky::config::DynamicConfig;
    ///
    /// let values = [("agent.sample_rate", "0.5"), ("plugin.sql.params", "true")];
    /// let config = DynamicConfig::new("v1", values);
    /// let keys = config.values().keys().map(String::as_str);
    /// // Kept, and logged once, but not applied:
    /// let kept: Vec<&str> = keys.filter(|key| !DynamicConfig::APPLIED_KEYS.contains(key)).collect();
    /// assert_eq!(kept, ["plugin.sql.params"]);
    /// ```
    pub const APPLIED_KEYS: &'static [&'static str] = &[
        Self::SAMPLE_RATE,
        Self::SPAN_LIMIT,
        Self::IGNORE_SUFFIX,
        Self::TRACE_IGNORE_PATH,
    ];

    /// A configuration with this version and these values (as the collector would send them).
    ///
    /// ```
    /// let config = rust2sky::config::DynamicConfig::new("v2", [("agent.span_limit_per_segment", "100")]);
    /// assert_eq!(config.get("agent.span_limit_per_segment"), Some("100"));
    /// ```
    pub fn new<K, V>(uuid: impl Into<String>, values: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        DynamicConfig {
            uuid: uuid.into(),
            values: values
                .into_iter()
                .map(|(key, value)| (key.into(), value.into()))
                .collect(),
        }
    }

    /// The version of this configuration (the command's `UUID`); sent back with the next fetch.
    ///
    /// ```
    /// assert_eq!(rust2sky::config::DynamicConfig::default().uuid(), "");
    /// ```
    pub fn uuid(&self) -> &str {
        &self.uuid
    }

    /// Every key and value received, empty values included.
    ///
    /// ```
    /// let config = rust2sky::config::DynamicConfig::new("v1", [("a", "1"), ("b", "")]);
    /// assert_eq!(config.values().len(), 2);
    /// ```
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// The value of `key`; an empty value means "back to the local setting" and gives `None`.
    ///
    /// ```
    /// let config = rust2sky::config::DynamicConfig::new("v1", [("a", "1"), ("b", "")]);
    /// assert_eq!((config.get("a"), config.get("b")), (Some("1"), None));
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    /// [`DynamicConfig::SAMPLE_RATE`] if it is set to a number from 0 to 1.
    ///
    /// ```
    /// use rust2sky::config::DynamicConfig;
    ///
    /// assert_eq!(DynamicConfig::new("v", [("agent.sample_rate", "0.1")]).sample_rate(), Some(0.1));
    /// assert_eq!(DynamicConfig::new("v", [("agent.sample_rate", "2")]).sample_rate(), None);
    /// ```
    pub fn sample_rate(&self) -> Option<f64> {
        self.get(Self::SAMPLE_RATE)
            .and_then(|value| value.parse::<f64>().ok())
            .filter(|rate| (0.0..=1.0).contains(rate))
    }

    /// [`DynamicConfig::SPAN_LIMIT`] if it is set to a positive integer.
    ///
    /// ```
    /// use rust2sky::config::DynamicConfig;
    ///
    /// assert_eq!(DynamicConfig::new("v", [("agent.span_limit_per_segment", "50")]).span_limit(), Some(50));
    /// assert_eq!(DynamicConfig::new("v", [("agent.span_limit_per_segment", "0")]).span_limit(), None);
    /// ```
    pub fn span_limit(&self) -> Option<usize> {
        self.get(Self::SPAN_LIMIT)
            .and_then(|value| value.parse::<usize>().ok())
            .filter(|limit| *limit > 0)
    }

    /// [`DynamicConfig::IGNORE_SUFFIX`] as a list, if it is set.
    ///
    /// ```
    /// use rust2sky::config::DynamicConfig;
    ///
    /// let config = DynamicConfig::new("v", [("agent.ignore_suffix", ".jpg, .css")]);
    /// assert_eq!(config.ignore_suffixes(), Some(vec![".jpg".to_owned(), ".css".to_owned()]));
    /// ```
    pub fn ignore_suffixes(&self) -> Option<Vec<String>> {
        self.get(Self::IGNORE_SUFFIX).map(super::split_nonempty)
    }

    /// [`DynamicConfig::TRACE_IGNORE_PATH`] as a list, if it is set.
    ///
    /// ```
    /// use rust2sky::config::DynamicConfig;
    ///
    /// let config = DynamicConfig::new("v", [("agent.trace.ignore_path", "/health,/static/**")]);
    /// assert_eq!(config.trace_ignore_paths(), Some(vec!["/health".to_owned(), "/static/**".to_owned()]));
    /// ```
    pub fn trace_ignore_paths(&self) -> Option<Vec<String>> {
        self.get(Self::TRACE_IGNORE_PATH).map(super::split_nonempty)
    }

    /// Sets what this configuration says on `settings`; a key that is absent, empty or invalid
    /// gives the configured value back.
    pub(crate) fn apply_to(&self, settings: &LiveSettings) {
        settings.set_sample_rate(self.sample_rate());
        settings.set_span_limit(self.span_limit());
        settings.set_ignore_suffixes(self.ignore_suffixes());
        settings.set_trace_ignore_paths(self.trace_ignore_paths());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_config_values() {
        let config = DynamicConfig::new(
            "u",
            [("agent.sample_rate", " 0.25 "), ("agent.ignore_suffix", "")],
        );
        assert_eq!(config.sample_rate(), Some(0.25));
        assert_eq!(config.get("agent.ignore_suffix"), None);
        assert_eq!(
            DynamicConfig::new("u", [("agent.sample_rate", "x")]).sample_rate(),
            None
        );
    }
}
