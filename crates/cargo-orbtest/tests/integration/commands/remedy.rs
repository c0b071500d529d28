//! Restarting an OrbStack that has grown over its limits, against orbsim: `doctor --fix` and
//! preflight with `--restart-orbstack`. (orbsim's `orbctl stop` and `start` stop and start its
//! simulated OrbStack; its swap comes from the scenario's memory model.)

use crate::support::pysuite::{Scenario, code, stderr, stdout};

/// Two machines of 1 GiB on a 4 GiB host with 3 GiB in use: swap at 25%.
const SCENARIO: &str = "time_scale = 0.01\n[host]\nmemory_mib = 4096\nbase_mib = 3072\nmachine_mib = 1024\nswap_mib = 4096\n[latency]\nstartup = \"20s\"\n";

fn scenario(swap_limit: u32) -> Scenario {
    let config = format!(
        "[machines]\nprovider = \"sim\"\nrestart = {{ swap_percent = {swap_limit}, timeout = \"60s\" }}\n\
         [machines.sim]\nscenario = \"{{scenario}}\"\n[tiers.py]\ncommand = [\"true\"]\nmachines = true\n"
    );
    let s = Scenario::new(&config, None, Some(SCENARIO));
    for name in ["busy-1", "busy-2"] {
        let out = s.orbctl(&["create", "ubuntu:22.04", name]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    s
}

#[test]
fn doctor_fix_restarts_orbstack_over_the_swap_limit_and_says_so() {
    let s = scenario(20);
    let out = s.run(&["doctor", "--fix"]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("fix: restarted OrbStack because swap is at 25%, over the 20% limit; it was Running again after"),
        "{text}"
    );
    assert!(text.contains("OrbStack: Running"), "{text}");
    assert_eq!(s.stats()["orbstack"], "running");
    assert_eq!(s.machines(), ["busy-1", "busy-2"], "machines survive a restart");

    let out = s.run(&["doctor", "--fix", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("doctor JSON");
    assert!(
        json["fixed"][0].as_str().unwrap().starts_with("restarted OrbStack"),
        "{json}"
    );
}

#[test]
fn doctor_fix_leaves_an_orbstack_under_the_limits_alone() {
    let s = scenario(50);
    let out = s.run(&["doctor", "--fix"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("fix: no restart needed (swap 25%)"),
        "{}",
        stdout(&out)
    );
    let out = s.run(&["doctor"]);
    assert!(!stdout(&out).contains("fix:"), "no --fix, no fixing: {}", stdout(&out));
}

#[test]
fn preflight_restarts_orbstack_when_asked() {
    let s = scenario(20);
    let out = s.run(&["--restart-orbstack"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("restart: restarted OrbStack because swap is at 25%"),
        "{}",
        stderr(&out)
    );
    let out = s.run(&[]);
    assert!(!stderr(&out).contains("restart:"), "only when asked: {}", stderr(&out));
}
