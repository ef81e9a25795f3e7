//! The kinds of value a setting holds: how each is read from its environment variable, and which
//! values set in code it refuses. The error texts are part of what users see and match on, so
//! each kind writes its own once and every setting of that kind shares it.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::ConfigError;

/// How one kind of setting is read and checked; `V` is the type [`Config`](super::Config)
/// stores. Generic over `V` so that one kind (say [`Positive`]) serves several integer types.
pub(super) trait Kind<V> {
    /// A variable's value, already trimmed and never empty; `Err` says what was expected.
    fn parse(&self, text: &str) -> Result<V, &'static str>;

    /// A value set in code that no variable overrode: refused with what was expected, or brought
    /// to the form the variable would have given (an empty optional value becomes `None`).
    fn check(&self, value: &mut V) -> Result<(), &'static str> {
        let _ = value;
        Ok(())
    }

    /// What `Debug` may show of the value; a secret overrides it.
    fn debug<'a>(&self, value: &'a V) -> impl fmt::Debug + 'a
    where
        V: fmt::Debug,
    {
        value
    }
}

/// A setting's value: its variable's when that is set, else the one set in code, checked.
pub(super) fn resolve<V: fmt::Debug>(
    kind: &impl Kind<V>,
    variable: &'static str,
    from_env: Option<String>,
    setting: &'static str,
    mut code: V,
) -> Result<V, ConfigError> {
    match from_env {
        Some(value) => kind.parse(&value).map_err(|reason| ConfigError::Invalid {
            variable,
            value,
            reason,
        }),
        None => match kind.check(&mut code) {
            Ok(()) => Ok(code),
            Err(reason) => Err(ConfigError::InvalidSetting {
                setting,
                value: format!("{code:?}"),
                reason,
            }),
        },
    }
}

/// A name that must not be blank.
pub(super) struct Name;

impl Kind<String> for Name {
    fn parse(&self, text: &str) -> Result<String, &'static str> {
        Ok(text.to_owned())
    }

    fn check(&self, name: &mut String) -> Result<(), &'static str> {
        if name.trim().is_empty() {
            Err("expected a name")
        } else {
            Ok(())
        }
    }
}

/// Text that may be absent; an empty text set in code is absent.
pub(super) struct Text;

impl Kind<Option<String>> for Text {
    fn parse(&self, text: &str) -> Result<Option<String>, &'static str> {
        Ok(Some(text.to_owned()))
    }

    fn check(&self, text: &mut Option<String>) -> Result<(), &'static str> {
        text.take_if(|text| text.is_empty());
        Ok(())
    }
}

/// [`Text`] that `Debug` does not show, so that logging a configuration leaks no token.
pub(super) struct Secret;

impl Kind<Option<String>> for Secret {
    fn parse(&self, text: &str) -> Result<Option<String>, &'static str> {
        Text.parse(text)
    }

    fn check(&self, secret: &mut Option<String>) -> Result<(), &'static str> {
        Text.check(secret)
    }

    fn debug<'a>(&self, secret: &'a Option<String>) -> impl fmt::Debug + 'a {
        secret.as_ref().map(|_| "<redacted>")
    }
}

/// At least one `host:port` address of an OAP collector.
pub(super) struct Backends;

impl Kind<Vec<String>> for Backends {
    fn parse(&self, text: &str) -> Result<Vec<String>, &'static str> {
        split_list(text)
            .map(|backend| {
                if backend.is_empty() {
                    return Err(
                        "expected a comma-separated list of host:port, found an empty entry",
                    );
                }
                check_backend(backend).map(|()| backend.to_owned())
            })
            .collect()
    }

    fn check(&self, backends: &mut Vec<String>) -> Result<(), &'static str> {
        if backends.is_empty() {
            return Err("expected at least one host:port");
        }
        backends
            .iter()
            .try_for_each(|backend| check_backend(backend))
    }
}

/// A comma-separated list whose empty entries mean nothing, so they are dropped.
pub(super) struct List;

impl Kind<Vec<String>> for List {
    fn parse(&self, text: &str) -> Result<Vec<String>, &'static str> {
        Ok(split_nonempty(text))
    }

    fn check(&self, entries: &mut Vec<String>) -> Result<(), &'static str> {
        entries.retain(|entry| !entry.is_empty());
        Ok(())
    }
}

/// A share from 0 to 1.
pub(super) struct Rate;

const RATE: &str = "expected a number from 0 to 1";

impl Kind<f64> for Rate {
    fn parse(&self, text: &str) -> Result<f64, &'static str> {
        // NaN is in no range, so "NaN" is refused with the rest.
        match text.parse() {
            Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
            _ => Err(RATE),
        }
    }

    fn check(&self, rate: &mut f64) -> Result<(), &'static str> {
        if (0.0..=1.0).contains(rate) {
            Ok(())
        } else {
            Err(RATE)
        }
    }
}

/// A whole number of at least 1, of whichever integer type the setting stores.
pub(super) struct Positive;

const POSITIVE: &str = "expected a whole number, at least 1";

impl<T: FromStr + PartialOrd + From<u8>> Kind<T> for Positive {
    fn parse(&self, text: &str) -> Result<T, &'static str> {
        match text.parse() {
            Ok(number) if number >= T::from(1) => Ok(number),
            _ => Err(POSITIVE),
        }
    }

    fn check(&self, number: &mut T) -> Result<(), &'static str> {
        if *number >= T::from(1) {
            Ok(())
        } else {
            Err(POSITIVE)
        }
    }
}

/// A whole number, 0 included.
pub(super) struct Count;

impl Kind<usize> for Count {
    fn parse(&self, text: &str) -> Result<usize, &'static str> {
        text.parse()
            .map_err(|_| "expected a whole number, at least 0")
    }
}

/// The longest period a setting takes; a longer one is taken as this. Timers past it would
/// overflow the clock (`Duration::MAX` from now is no instant), and a day between heartbeats
/// already means none.
pub(super) const MAX_PERIOD: Duration = Duration::from_secs(24 * 60 * 60);

/// A period that must not be zero, in whole seconds in the environment; at most [`MAX_PERIOD`].
pub(super) struct Seconds;

impl Kind<Duration> for Seconds {
    fn parse(&self, text: &str) -> Result<Duration, &'static str> {
        match text.parse::<u64>() {
            Ok(secs) if secs >= 1 => Ok(Duration::from_secs(secs).min(MAX_PERIOD)),
            _ => Err("expected a whole number of seconds, at least 1"),
        }
    }

    fn check(&self, period: &mut Duration) -> Result<(), &'static str> {
        if period.is_zero() {
            Err("expected a period longer than zero")
        } else {
            *period = (*period).min(MAX_PERIOD);
            Ok(())
        }
    }
}

/// A period in whole seconds where 0 turns off what it times. The error text is the setting's
/// own, since what 0 turns off differs from one setting to the next.
pub(super) struct SecondsOrOff(pub(super) &'static str);

impl Kind<Option<Duration>> for SecondsOrOff {
    fn parse(&self, text: &str) -> Result<Option<Duration>, &'static str> {
        let secs: u64 = text.parse().map_err(|_| self.0)?;
        Ok((secs > 0).then(|| Duration::from_secs(secs).min(MAX_PERIOD)))
    }

    fn check(&self, period: &mut Option<Duration>) -> Result<(), &'static str> {
        if let Some(period) = period {
            *period = (*period).min(MAX_PERIOD);
        }
        Ok(())
    }
}

/// A [`Protocol`](super::Protocol) by its name, in any case.
pub(super) struct ProtocolName;

impl Kind<super::Protocol> for ProtocolName {
    fn parse(&self, text: &str) -> Result<super::Protocol, &'static str> {
        match text.to_ascii_lowercase().as_str() {
            "grpc" => Ok(super::Protocol::Grpc),
            "kafka" => Ok(super::Protocol::Kafka),
            _ => Err("expected grpc or kafka (rust2sky has no http transport)"),
        }
    }
}

/// A [`KafkaCompression`](super::KafkaCompression) by Kafka's name for it, in any case.
pub(super) struct CompressionName;

impl Kind<super::KafkaCompression> for CompressionName {
    fn parse(&self, text: &str) -> Result<super::KafkaCompression, &'static str> {
        match text.to_ascii_lowercase().as_str() {
            "none" => Ok(super::KafkaCompression::None),
            "gzip" => Ok(super::KafkaCompression::Gzip),
            "snappy" => Ok(super::KafkaCompression::Snappy),
            "lz4" | "zstd" => Err("lz4 and zstd are not built into rust2sky: use gzip or snappy"),
            _ => Err("expected none, gzip or snappy"),
        }
    }
}

/// A [`KafkaSecurityProtocol`](super::KafkaSecurityProtocol) by Kafka's name for it, in any case.
pub(super) struct KafkaSecurityProtocolName;

impl Kind<super::KafkaSecurityProtocol> for KafkaSecurityProtocolName {
    fn parse(&self, text: &str) -> Result<super::KafkaSecurityProtocol, &'static str> {
        use super::KafkaSecurityProtocol as Security;
        [
            Security::Plaintext,
            Security::Ssl,
            Security::SaslPlaintext,
            Security::SaslSsl,
        ]
        .into_iter()
        .find(|protocol| protocol.name().eq_ignore_ascii_case(text))
        .ok_or("expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    }
}

/// A [`KafkaSaslMechanism`](super::KafkaSaslMechanism) by Kafka's name for it, in any case.
pub(super) struct KafkaSaslMechanismName;

impl Kind<super::KafkaSaslMechanism> for KafkaSaslMechanismName {
    fn parse(&self, text: &str) -> Result<super::KafkaSaslMechanism, &'static str> {
        use super::KafkaSaslMechanism as Mechanism;
        if let Some(mechanism) = [Mechanism::ScramSha256, Mechanism::ScramSha512]
            .into_iter()
            .find(|mechanism| mechanism.name().eq_ignore_ascii_case(text))
        {
            return Ok(mechanism);
        }
        match text.to_ascii_uppercase().as_str() {
            // Kafka's other mechanisms, named so that their users know it is not a typo.
            "PLAIN" | "GSSAPI" | "OAUTHBEARER" => Err(
                "rust2sky has only SCRAM-SHA-256 and SCRAM-SHA-512, the mechanisms its tests run \
                 against a real broker",
            ),
            _ => Err("expected SCRAM-SHA-256 or SCRAM-SHA-512"),
        }
    }
}

/// `true`/`false`/`1`/`0`, in any case.
pub(super) struct Flag;

impl Kind<bool> for Flag {
    fn parse(&self, text: &str) -> Result<bool, &'static str> {
        match text.to_ascii_lowercase().as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            _ => Err("expected true, false, 1 or 0"),
        }
    }
}

/// A file that may be absent; an empty path set in code is absent.
pub(super) struct File;

impl Kind<Option<PathBuf>> for File {
    fn parse(&self, text: &str) -> Result<Option<PathBuf>, &'static str> {
        Ok(Some(PathBuf::from(text)))
    }

    fn check(&self, path: &mut Option<PathBuf>) -> Result<(), &'static str> {
        path.take_if(|path| path.as_os_str().is_empty());
        Ok(())
    }
}

/// A `log` level filter, by name in any case.
pub(super) struct Level;

impl Kind<log::LevelFilter> for Level {
    fn parse(&self, text: &str) -> Result<log::LevelFilter, &'static str> {
        text.parse()
            .map_err(|_| "expected off, error, warn, info, debug or trace")
    }
}

/// The entries of a comma-separated list, trimmed; empty entries are kept, for callers that
/// refuse them.
fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim)
}

/// The entries of a comma-separated list, trimmed, without empty ones.
pub(super) fn split_nonempty(value: &str) -> Vec<String> {
    split_list(value)
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks one `host:port` address (IPv6 hosts in brackets).
fn check_backend(backend: &str) -> Result<(), &'static str> {
    const NO_PORT: &str = "expected host:port (IPv6 as [::1]:11800), found an entry without a port";
    let (host, port) = if let Some(rest) = backend.strip_prefix('[') {
        let (ip, port) = rest
            .split_once(']')
            .ok_or("expected host:port, found an IPv6 address without a closing ]")?;
        if ip.parse::<Ipv6Addr>().is_err() {
            return Err("expected host:port, found an invalid IPv6 address in brackets");
        }
        (ip, port.strip_prefix(':').ok_or(NO_PORT)?)
    } else {
        let (host, port) = backend.rsplit_once(':').ok_or(NO_PORT)?;
        if host.contains(':') {
            return Err("expected host:port, found an IPv6 address without brackets");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("expected host:port, found an entry without a host");
    }
    if host
        .chars()
        .any(|ch| ch.is_whitespace() || matches!(ch, '/' | '@' | '?' | '#' | '[' | ']'))
    {
        return Err(
            "expected host:port, found a host that is not a name or address (no scheme or path)",
        );
    }
    match port.parse::<u16>() {
        Ok(port_number) if port_number >= 1 && port.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err("expected host:port with a port from 1 to 65535"),
    }
}
