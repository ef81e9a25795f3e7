//! Which new traces are recorded: the sample rate and the ignore rules.

use crate::config::{Config, LiveSettings};

/// Decides, once per new trace, whether it is recorded.
#[derive(Debug)]
pub(crate) struct Sampler {
    /// The share of traces kept, as a threshold on a uniform `u64`; `u64::MAX` keeps all.
    threshold: u64,
    keep_all: bool,
    rules: IgnoreRules,
    /// What the collector's dynamic configuration changed, read per new trace.
    live: LiveSettings,
}

impl Sampler {
    pub(crate) fn new(config: &Config, live: LiveSettings) -> Self {
        let rate = config.sample_rate().clamp(0.0, 1.0);
        Sampler {
            threshold: threshold(rate),
            keep_all: rate >= 1.0,
            rules: IgnoreRules::new(config.ignore_suffixes(), config.trace_ignore_paths()),
            live,
        }
    }

    /// Whether a new trace whose first span is `operation` is recorded.
    pub(crate) fn sample(&self, operation: &str) -> bool {
        if self.is_ignored(operation) {
            return false;
        }
        match self.live.sample_rate() {
            None => self.keep_all || random_u64() < self.threshold,
            Some(rate) => rate >= 1.0 || random_u64() < threshold(rate),
        }
    }

    /// Whether a trace that a caller sampled is followed here: yes, unless the ignore rules
    /// exclude `operation` (the sample rate applies only to traces that start here).
    pub(crate) fn sample_followed(&self, operation: &str) -> bool {
        !self.is_ignored(operation)
    }

    fn is_ignored(&self, operation: &str) -> bool {
        match self.live.ignore_rules() {
            Some(rules) => rules.is_ignored(operation),
            None => self.rules.is_ignored(operation),
        }
    }
}

/// The ignore rules, as the Java agent applies them to a trace's first operation: a suffix
/// (`.css`), or an Ant-style path pattern. An HTTP operation named `GET:/health` is matched by
/// its path too, so `/health` ignores it.
#[derive(Debug, Clone)]
pub(crate) struct IgnoreRules {
    suffixes: Vec<String>,
    /// Which bytes some suffix ends with: a name ending in none of them matches no suffix, so
    /// most names are cleared by one lookup instead of a comparison with every suffix.
    suffix_ends: [u64; 4],
    paths: Vec<AntPattern>,
}

impl IgnoreRules {
    pub(crate) fn new(suffixes: &[String], paths: &[String]) -> Self {
        let mut suffix_ends = [0u64; 4];
        for suffix in suffixes {
            match suffix.as_bytes().last() {
                Some(&last) => suffix_ends[usize::from(last / 64)] |= 1 << (last % 64),
                // An empty suffix ends every name.
                None => suffix_ends = [u64::MAX; 4],
            }
        }
        IgnoreRules {
            suffixes: suffixes.to_vec(),
            suffix_ends,
            paths: paths
                .iter()
                .map(|pattern| AntPattern::new(pattern))
                .collect(),
        }
    }

    pub(crate) fn is_ignored(&self, operation: &str) -> bool {
        if self.suffixes.is_empty() && self.paths.is_empty() {
            return false;
        }
        // Byte scans rather than `str` pattern searchers: this runs for every new trace, and a
        // searcher's set-up cost more than the default suffix list's twelve comparisons.
        let query = operation
            .bytes()
            .position(|byte| byte == b'?' || byte == b'#');
        let name_without_query = &operation[..query.unwrap_or(operation.len())];
        let last = name_without_query.as_bytes().last().copied();
        let may_end_with_suffix = match last {
            Some(last) => self.suffix_ends[usize::from(last / 64)] & (1 << (last % 64)) != 0,
            None => self.suffixes.iter().any(String::is_empty),
        };
        if may_end_with_suffix
            && self
                .suffixes
                .iter()
                .any(|suffix| name_without_query.ends_with(suffix.as_str()))
        {
            return true;
        }
        if self.paths.is_empty() {
            return false;
        }
        let path = operation
            .as_bytes()
            .windows(2)
            .position(|pair| pair == b":/")
            .map(|at| &operation[at + 2..]);
        self.paths.iter().any(|pattern| {
            pattern.matches(operation)
                || path.is_some_and(|rest| pattern.matches_path_after_slash(rest))
        })
    }
}

/// The share `rate` of traces as a bound on a uniform `u64`; `as` saturates, and a NaN gives 0.
fn threshold(rate: f64) -> u64 {
    (rate * u64::MAX as f64) as u64
}

/// A uniform random `u64`; sampling needs speed and spread, not secrecy.
fn random_u64() -> u64 {
    fastrand::u64(..)
}

/// An Ant-style path pattern: `?` is one character, `*` any characters within a path segment, and
/// `**` any number of whole segments.
#[derive(Debug, Clone)]
pub(crate) struct AntPattern {
    segments: Vec<String>,
    absolute: bool,
}

impl AntPattern {
    pub(crate) fn new(pattern: &str) -> Self {
        AntPattern {
            absolute: pattern.starts_with('/'),
            segments: pattern
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    pub(crate) fn matches(&self, path: &str) -> bool {
        if self.absolute != path.starts_with('/') {
            return false;
        }
        self.matches_segments(path)
    }

    /// Matches a path whose leading `/` was already consumed (as in `GET:/health`).
    fn matches_path_after_slash(&self, rest: &str) -> bool {
        self.absolute && self.matches_segments(rest)
    }

    fn matches_segments(&self, path: &str) -> bool {
        let path: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        // matched[j]: the pattern so far matches the first j path segments. Dynamic programming
        // keeps this linear in pattern × path, whatever the number of `**`.
        let mut matched = vec![false; path.len() + 1];
        matched[0] = true;
        for segment in &self.segments {
            let mut next = vec![false; path.len() + 1];
            if segment == "**" {
                let mut reachable = false;
                for j in 0..=path.len() {
                    reachable |= matched[j];
                    next[j] = reachable;
                }
            } else {
                for j in 0..path.len() {
                    next[j + 1] = matched[j] && wildcard_matches(segment, path[j]);
                }
            }
            matched = next;
        }
        matched[path.len()]
    }
}

/// `*` and `?` wildcard matching within one path segment, in linear time with one backtrack point.
fn wildcard_matches(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ant_patterns_match_as_the_java_agent_documents() {
        let cases = [
            ("/health", "/health", true),
            ("/health", "/healthz", false),
            ("/static/**", "/static", true),
            ("/static/**", "/static/css/site.css", true),
            ("/static/*", "/static/css/site.css", false),
            ("/static/*.css", "/static/site.css", true),
            ("/api/v?/ping", "/api/v1/ping", true),
            ("/api/v?/ping", "/api/v10/ping", false),
            ("/**/ping", "/a/b/c/ping", true),
            ("/**/ping", "/ping", true),
            ("/**/a/**/b", "/x/a/y/z/b", true),
            ("/**/a/**/b", "/x/a/y/z/c", false),
            ("/users/*/orders", "/users/42/orders", true),
            ("health", "/health", false),
        ];
        for (pattern, path, expected) in cases {
            assert_eq!(
                AntPattern::new(pattern).matches(path),
                expected,
                "{pattern} vs {path}"
            );
        }
    }

    #[test]
    fn many_double_stars_stay_fast() {
        let pattern = AntPattern::new(&"/**/a".repeat(50));
        let path = "/a".repeat(2000) + "/b";
        assert!(!pattern.matches(&path));
    }

    fn sampler(
        build: impl FnOnce(crate::config::ConfigBuilder) -> crate::config::ConfigBuilder,
    ) -> Sampler {
        let config = build(Config::builder()).build_with_env(|_| None).unwrap();
        Sampler::new(&config, LiveSettings::new(&config))
    }

    #[test]
    fn ignore_rules_apply_to_the_operation_and_its_http_path() {
        let sampler = sampler(|b| b.trace_ignore_paths(["/health", "/static/**"]));
        assert!(!sampler.sample("GET:/health"));
        assert!(!sampler.sample("/health"));
        assert!(!sampler.sample("GET:/static/app/main.js"));
        assert!(!sampler.sample("GET:/logo.png")); // a default ignored suffix
        assert!(sampler.sample("GET:/orders"));
        assert!(sampler.sample("compute"));
    }

    #[test]
    fn suffixes_match_whole_endings_whatever_their_last_byte() {
        let suffixes = [".css".to_owned(), ".tar.gz".to_owned()];
        let rules = IgnoreRules::new(&suffixes, &[]);
        assert!(rules.is_ignored("GET:/site.css"));
        assert!(rules.is_ignored("GET:/site.css?v=2"));
        assert!(rules.is_ignored("GET:/dump.tar.gz"));
        assert!(!rules.is_ignored("GET:/dump.gz")); // ends in `z` like `.tar.gz`, but is not it
        assert!(!rules.is_ignored("GET:/access")); // ends in `s` like `.css`
        assert!(!rules.is_ignored("GET:/orders"));
        assert!(!rules.is_ignored(""));

        let everything = IgnoreRules::new(&[String::new()], &[]);
        assert!(everything.is_ignored("GET:/orders"));
        assert!(everything.is_ignored(""));
    }

    #[test]
    fn sample_rate_keeps_about_that_share() {
        assert!((0..1000).all(|_| sampler(|b| b.sample_rate(1.0)).sample("x")));
        let none = sampler(|b| b.sample_rate(0.0));
        assert!((0..1000).all(|_| !none.sample("x")));
        let quarter = sampler(|b| b.sample_rate(0.25));
        let kept = (0..20_000).filter(|_| quarter.sample("x")).count();
        assert!((4_000..6_000).contains(&kept), "{kept}");
    }

    #[test]
    fn live_settings_replace_the_configured_ones() {
        let config = Config::builder()
            .sample_rate(0.0)
            .trace_ignore_paths(["/health"])
            .build_with_env(|_| None)
            .unwrap();
        let live = LiveSettings::new(&config);
        let sampler = Sampler::new(&config, live.clone());
        assert!((0..1000).all(|_| !sampler.sample("x")));
        live.set_sample_rate(Some(1.0));
        assert!((0..1000).all(|_| sampler.sample("x")));
        live.set_sample_rate(Some(0.5));
        let kept = (0..20_000).filter(|_| sampler.sample("x")).count();
        assert!((9_000..11_000).contains(&kept), "{kept}");
        live.set_sample_rate(Some(1.0));

        // The ignore rules still apply, the configured ones until they are overridden.
        assert!(!sampler.sample("GET:/health"));
        assert!(!sampler.sample("GET:/logo.png"));
        live.set_trace_ignore_paths(Some(vec!["/ping".to_owned()]));
        assert!(sampler.sample("GET:/health"));
        assert!(!sampler.sample("GET:/ping"));
        assert!(
            !sampler.sample("GET:/logo.png"),
            "suffixes are still the configured ones"
        );
        live.set_ignore_suffixes(Some(Vec::new()));
        assert!(sampler.sample("GET:/logo.png"));
        assert!(!sampler.sample_followed("GET:/ping"));
        live.set_trace_ignore_paths(None);
        live.set_ignore_suffixes(None);
        assert!(!sampler.sample("GET:/health"));
        assert!(!sampler.sample("GET:/logo.png"));
        assert!(sampler.sample("GET:/ping"));
    }
}
