//! orbctl's JSON: `list -f json` (an array of records) and `info -f json` (the v1.10+
//! `{record, disk_size, ip4?, ip6?}` wrapper, or the older bare record).
//!
//! Field order in these structs is the JSON key order orbctl prints (Go struct order), so
//! serializing them reproduces orbctl's output; unknown keys from newer OrbStack versions are
//! kept (in order) rather than rejected.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageSpec {
    /// The image name (`almalinux` for the `alma` token).
    pub distro: String,
    pub version: String,
    pub arch: String,
    #[serde(default)]
    pub variant: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineConfig {
    #[serde(default)]
    pub isolated: bool,
    #[serde(default)]
    pub default_username: String,
    /// Keys added by newer OrbStack versions (e.g. `forward_ssh_agent`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A machine as `list -f json` prints it (OrbStack's ContainerRecord).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineRecord {
    pub id: String,
    pub name: String,
    pub image: ImageSpec,
    pub config: MachineConfig,
    #[serde(default)]
    pub builtin: bool,
    pub state: String,
}

impl MachineRecord {
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }
}

/// `info -f json` (OrbStack's ContainerInfo, v1.10+).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    pub record: MachineRecord,
    /// Bytes; `null` when OrbStack cannot measure it.
    pub disk_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ip4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ip6: Option<String>,
}

impl MachineInfo {
    /// The readiness test callers used with the real orbctl: running and an IPv4 address.
    pub fn is_ready(&self) -> bool {
        self.record.is_running() && self.ip4.as_deref().is_some_and(|ip| !ip.is_empty())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("orbctl printed JSON that is not a machine list: {0}")]
    List(#[source] serde_json::Error),
    #[error("orbctl printed JSON that is neither an info wrapper nor a machine record: {0}")]
    Info(#[source] serde_json::Error),
}

/// Parses `orbctl list -f json` stdout.
pub fn parse_list(stdout: &[u8]) -> Result<Vec<MachineRecord>, ParseError> {
    serde_json::from_slice(stdout).map_err(ParseError::List)
}

/// Parses `orbctl info NAME -f json` stdout in either shape. The pre-v1.10 bare record has no
/// disk size or addresses, so those come back as `None`.
pub fn parse_info(stdout: &[u8]) -> Result<MachineInfo, ParseError> {
    let value: Value = serde_json::from_slice(stdout).map_err(ParseError::Info)?;
    if value.get("record").is_some() {
        serde_json::from_value(value).map_err(ParseError::Info)
    } else {
        let record: MachineRecord = serde_json::from_value(value).map_err(ParseError::Info)?;
        Ok(MachineInfo {
            record,
            disk_size: None,
            ip4: None,
            ip6: None,
        })
    }
}

/// orbctl's JSON printing: 2-space indent and a trailing newline.
pub fn to_orbctl_json<T: Serialize>(value: &T) -> String {
    // Serializing plain data structs to a String cannot fail.
    let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{
    "id": "01K2G8TY5GM9C3CN95KCB4ZG8B",
    "name": "web-server",
    "image": { "distro": "ubuntu", "version": "jammy", "arch": "arm64", "variant": "default" },
    "config": { "isolated": false, "default_username": "ubuntu" },
    "builtin": false,
    "state": "running"
  }"#;

    #[test]
    fn list_parses_and_reprints_in_orbctl_key_order() {
        let list = parse_list(format!("[{RECORD}]").as_bytes()).unwrap();
        assert_eq!(list[0].name, "web-server");
        let out = to_orbctl_json(&list);
        let keys: Vec<&str> = out
            .lines()
            .filter_map(|l| l.trim().strip_prefix('"'))
            .filter_map(|l| l.split('"').next())
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "name",
                "image",
                "distro",
                "version",
                "arch",
                "variant",
                "config",
                "isolated",
                "default_username",
                "builtin",
                "state"
            ]
        );
        assert!(out.ends_with("}\n]\n"));
        assert_eq!(to_orbctl_json(&Vec::<MachineRecord>::new()), "[]\n");
    }

    #[test]
    fn info_wrapper_and_bare_record() {
        let wrapped =
            format!(r#"{{"record": {RECORD}, "disk_size": 962924544, "ip4": "198.19.249.76", "ip6": "fd07::1"}}"#);
        let info = parse_info(wrapped.as_bytes()).unwrap();
        assert_eq!(info.disk_size, Some(962924544));
        assert!(info.is_ready());
        let bare = parse_info(RECORD.as_bytes()).unwrap();
        assert_eq!(bare.record.id, "01K2G8TY5GM9C3CN95KCB4ZG8B");
        assert_eq!(bare.ip4, None);
        assert!(!bare.is_ready());
    }

    #[test]
    fn stopped_info_omits_addresses_and_null_disk_size_parses() {
        let json = format!(r#"{{"record": {RECORD}, "disk_size": null}}"#);
        let info = parse_info(json.as_bytes()).unwrap();
        assert_eq!(info.disk_size, None);
        let out = to_orbctl_json(&info);
        assert!(!out.contains("ip4"));
        assert!(out.contains("\"disk_size\": null"));
    }

    #[test]
    fn newer_config_keys_survive_a_round_trip() {
        let json = RECORD.replace(
            r#""default_username": "ubuntu" }"#,
            r#""forward_ssh_agent": true, "default_username": "ubuntu" }"#,
        );
        let rec: MachineRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(rec.config.extra.get("forward_ssh_agent"), Some(&Value::Bool(true)));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_list(b"null").is_err());
        assert!(parse_info(b"[]").is_err());
        assert!(parse_info(b"").is_err());
    }
}
