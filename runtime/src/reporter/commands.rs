//! The commands a collector sends back (`Commands`): repeated ones ignored by serial number, and
//! the dynamic configuration (`ConfigurationDiscoveryCommand`) read out of them.

use std::collections::VecDeque;

use rust2sky_proto::v3::{Command, Commands};

use crate::config::DynamicConfig;

/// How many command serial numbers are remembered to ignore repeated commands.
const SEEN_SERIALS: usize = 64;
const DISCOVERY_COMMAND: &str = "ConfigurationDiscoveryCommand";

/// What a transport remembers of the commands it received.
#[derive(Debug, Default)]
pub(crate) struct CommandInbox {
    seen_serials: VecDeque<String>,
    config_uuid: String,
    logged_unknown_keys: Vec<String>,
}

impl CommandInbox {
    /// The version of the last configuration received, which the next fetch sends back.
    pub(crate) fn config_uuid(&self) -> &str {
        &self.config_uuid
    }

    /// Reads `commands`; returns the configuration they bring when it is a new one, and hands
    /// the name of every command not understood to `unknown`.
    pub(crate) fn receive(
        &mut self,
        commands: Commands,
        mut unknown: impl FnMut(&str),
    ) -> Option<DynamicConfig> {
        let mut received = None;
        for command in commands.commands {
            if let Some(serial) = argument(&command, "SerialNumber") {
                if self.seen_serials.iter().any(|seen| seen == serial) {
                    continue;
                }
                if self.seen_serials.len() == SEEN_SERIALS {
                    self.seen_serials.pop_front();
                }
                self.seen_serials.push_back(serial.to_owned());
            }
            if command.command == DISCOVERY_COMMAND {
                received = self.configuration(&command).or(received);
            } else {
                unknown(&command.command);
            }
        }
        received
    }

    fn configuration(&mut self, command: &Command) -> Option<DynamicConfig> {
        let uuid = argument(command, "UUID").unwrap_or_default();
        if uuid == self.config_uuid && !uuid.is_empty() {
            return None;
        }
        let config = DynamicConfig::new(
            uuid,
            command
                .args
                .iter()
                .filter(|arg| arg.key != "SerialNumber" && arg.key != "UUID")
                .map(|arg| (arg.key.as_str(), arg.value.as_str())),
        );
        for key in config.values().keys() {
            if !DynamicConfig::APPLIED_KEYS.contains(&key.as_str())
                && !self.logged_unknown_keys.contains(key)
            {
                log::warn!(
                    target: "rust2sky",
                    "the collector's dynamic configuration has key {key:?}, which rust2sky does not apply; it is kept, not applied"
                );
                self.logged_unknown_keys.push(key.clone());
            }
        }
        let invalid = [
            (
                DynamicConfig::SAMPLE_RATE,
                config.sample_rate().is_none(),
                "a number from 0 to 1",
            ),
            (
                DynamicConfig::SPAN_LIMIT,
                config.span_limit().is_none(),
                "a positive integer",
            ),
        ];
        for (key, unusable, expected) in invalid {
            if let Some(value) = config.get(key).filter(|_| unusable) {
                log::warn!(
                    target: "rust2sky",
                    "the collector's dynamic configuration sets {key}={value:?}, which is not {expected}; the local setting applies"
                );
            }
        }
        log::info!(
            target: "rust2sky",
            "dynamic configuration {uuid:?} received: {:?}",
            config.values()
        );
        uuid.clone_into(&mut self.config_uuid);
        Some(config)
    }
}

fn argument<'a>(command: &'a Command, key: &str) -> Option<&'a str> {
    command
        .args
        .iter()
        .find(|arg| arg.key == key)
        .map(|arg| arg.value.as_str())
}

#[cfg(test)]
mod tests {
    use rust2sky_proto::v3::KeyStringValuePair;

    use super::*;

    fn discovery(serial: &str, uuid: &str, rate: &str) -> Command {
        let pair = |key: &str, value: &str| KeyStringValuePair {
            key: key.to_owned(),
            value: value.to_owned(),
        };
        Command {
            command: DISCOVERY_COMMAND.to_owned(),
            args: vec![
                pair("SerialNumber", serial),
                pair("UUID", uuid),
                pair(DynamicConfig::SAMPLE_RATE, rate),
            ],
        }
    }

    #[test]
    fn a_configuration_is_taken_once_per_serial_and_version() {
        let mut inbox = CommandInbox::default();
        let mut unknown = Vec::new();
        let commands = Commands {
            commands: vec![
                discovery("1", "v1", "0.5"),
                Command {
                    command: "ProfileTaskCommand".to_owned(),
                    args: Vec::new(),
                },
            ],
        };
        let config = inbox.receive(commands.clone(), |name| unknown.push(name.to_owned()));
        assert_eq!(config.and_then(|config| config.sample_rate()), Some(0.5));
        assert_eq!(unknown, ["ProfileTaskCommand"]);
        assert_eq!(inbox.config_uuid(), "v1");

        // The same serial again, then the same version under a new serial: nothing new.
        assert!(inbox.receive(commands, |_| {}).is_none());
        let same_version = Commands {
            commands: vec![discovery("2", "v1", "0.1")],
        };
        assert!(inbox.receive(same_version, |_| {}).is_none());
        let next = Commands {
            commands: vec![discovery("3", "v2", "0.1")],
        };
        let config = inbox.receive(next, |_| {});
        assert_eq!(config.and_then(|config| config.sample_rate()), Some(0.1));
    }
}
