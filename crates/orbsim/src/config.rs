//! `config show|get|set`: OrbStack's settings and per-machine usernames.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ctx::{Ctx, Reply};

/// OrbStack's settings and their defaults (Aug-2025 key set). `data_dir` only appears once set.
fn defaults(ctx: &Ctx) -> BTreeMap<String, Value> {
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(4);
    let memory = (ctx.scenario.host.memory_mib / 2).min(8192);
    let mut m = BTreeMap::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("app.start_at_login", Value::Bool(false));
    put("cpu", Value::from(cpus));
    put("data_allow_backup", Value::Bool(false));
    put("docker.node_name", Value::from("orbstack"));
    put("docker.set_context", Value::Bool(true));
    put("k8s.enable", Value::Bool(false));
    put("k8s.expose_services", Value::Bool(false));
    put("memory_mib", Value::from(memory));
    put("mount_hide_shared", Value::Bool(false));
    put("network.https", Value::Bool(true));
    put("network.subnet4", Value::from("192.168.138.0/23"));
    put("network_bridge", Value::Bool(true));
    put("network_proxy", Value::from("auto"));
    put("power.pause_on_sleep", Value::Bool(true));
    put("rosetta", Value::Bool(true));
    put("setup.use_admin", Value::Bool(true));
    put("ssh.expose_port", Value::Bool(false));
    m
}

fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `config show`, and `config get KEY`, which (in the spec's source) ignores KEY and prints
/// the same listing.
pub(crate) fn show(ctx: &Ctx) -> Reply {
    let got = ctx.daemon("", |t| {
        let wait = t.latency("config");
        let mut all = defaults(ctx);
        all.extend(t.state.config.clone());
        let mut lines: Vec<String> = all.iter().map(|(k, v)| format!("{k}: {}", show_value(v))).collect();
        for i in t.listing() {
            let m = &t.state.machines[i];
            let name = if m.name.contains('.') {
                format!("\"{}\"", m.name)
            } else {
                m.name.clone()
            };
            lines.push(format!("machine.{name}.username: {}", m.username));
        }
        lines.sort();
        (wait, lines)
    });
    match got {
        Ok((wait, lines)) => {
            ctx.sleep_for(wait);
            let mut s = lines.join("\n");
            s.push('\n');
            Reply::out(s)
        }
        Err(reply) => reply,
    }
}

/// Go's `strconv.ParseBool` error wording.
fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing \"{v}\": invalid syntax")),
    }
}

fn parse_uint(v: &str) -> Result<u64, String> {
    v.parse::<u64>().map_err(|_| {
        if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
            format!("strconv.ParseUint: parsing \"{v}\": value out of range")
        } else {
            format!("strconv.ParseUint: parsing \"{v}\": invalid syntax")
        }
    })
}

/// UNVERIFIED message: OrbStack wants an IPv4 /23.
fn parse_subnet(v: &str) -> Result<String, String> {
    let ok = v
        .split_once('/')
        .is_some_and(|(ip, bits)| bits == "23" && ip.parse::<std::net::Ipv4Addr>().is_ok());
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!("invalid subnet: {v} (must be an IPv4 /23)"))
    }
}

enum SetError {
    /// Printed as is (checkCLI), exit 1.
    Plain(String),
    /// A daemon error: `[-32098] …`.
    Daemon(String),
    /// `Unknown configuration key: K`.
    UnknownKey,
}

pub(crate) fn set(ctx: &Ctx, key: &str, value: &str) -> Reply {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get() as u64)
        .unwrap_or(4);
    let got = ctx.daemon("", |t| -> Result<bool, SetError> {
        let parsed: (Value, bool) = match key {
            "memory_mib" => (Value::from(parse_uint(value).map_err(SetError::Plain)?), true),
            "cpu" => {
                let n = parse_uint(value).map_err(SetError::Plain)?;
                if n < 1 {
                    return Err(SetError::Plain("CPU limit must be at least 1".into()));
                }
                if n > cpus {
                    return Err(SetError::Plain("CPU limit cannot exceed number of cores".into()));
                }
                (Value::from(n), true)
            }
            "rosetta" | "setup.use_admin" | "k8s.enable" | "k8s.expose_services" | "ssh.expose_port" => {
                (Value::Bool(parse_bool(value).map_err(SetError::Plain)?), true)
            }
            "network_bridge" | "docker.set_context" | "power.pause_on_sleep" | "app.start_at_login" => {
                (Value::Bool(parse_bool(value).map_err(SetError::Plain)?), false)
            }
            "network_proxy" => (Value::from(value), false),
            "data_dir" | "docker.node_name" => (Value::from(value), true),
            "network.subnet4" => (Value::from(parse_subnet(value).map_err(SetError::Plain)?), true),
            _ if key.starts_with("machine.") => {
                let parts: Vec<&str> = key.split('.').skip(1).collect();
                if parts.len() < 2 {
                    return Err(SetError::Plain(format!("Invalid machine config key: {key}")));
                }
                let (leaf, name_parts) = parts.split_last().unwrap_or((&"", &[]));
                let name = name_parts.join(".").replace('"', "");
                let Some(i) = t.find(&name) else {
                    return Err(SetError::Daemon(format!("machine not found: '{name}'")));
                };
                if *leaf != "username" {
                    return Err(SetError::Plain(format!("Unknown machine config key: {key}")));
                }
                t.state.machines[i].username = value.to_string();
                t.touch();
                return Ok(false);
            }
            _ => return Err(SetError::UnknownKey),
        };
        t.state.config.insert(key.to_string(), parsed.0);
        t.touch();
        Ok(parsed.1)
    });
    match got {
        Ok(Ok(true)) => Reply::out(format!(
            "Restart OrbStack with \"{} stop\" to apply changes.\n",
            ctx.root()
        )),
        Ok(Ok(false)) => Reply::ok(),
        Ok(Err(SetError::Plain(msg))) => Reply::err(format!("{msg}\n"), 1),
        Ok(Err(SetError::Daemon(msg))) => Reply::daemon(&msg),
        Ok(Err(SetError::UnknownKey)) => Reply::err(format!("Unknown configuration key: {key}\n"), 1),
        Err(reply) => reply,
    }
}
