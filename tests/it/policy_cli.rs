//! `revshare-oracle policy check` and `policy simulate`, driven as an admin runs them.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_revshare-oracle");
const GRANT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/grant-report.toml");
const CONSTITUTION: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/policies/constitution.toml");
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/policies/examples/wallet-votes.jsonl"
);

fn run(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn policy_commands_have_help() {
    for (args, expect) in [
        (vec!["policy", "--help"], "simulate"),
        (vec!["policy", "check", "--help"], "FILE"),
        (vec!["policy", "simulate", "--help"], "--events"),
    ] {
        let (ok, stdout, _) = run(&args);
        assert!(ok, "{args:?}");
        assert!(stdout.contains(expect), "{args:?}: {stdout}");
    }
}

#[test]
fn check_accepts_the_shipped_policies() {
    for (file, name) in [(GRANT, "revshare"), (CONSTITUTION, "constitution")] {
        let (ok, stdout, stderr) = run(&["policy", "check", file]);
        assert!(ok, "{stderr}");
        assert!(
            stdout.starts_with(&format!("policy `{name}` is valid")),
            "{stdout}"
        );
    }
}

#[test]
fn check_refuses_a_bad_policy_naming_policy_and_expression() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let source = std::fs::read_to_string(GRANT)
        .unwrap()
        .replace("total >= 5", "total >= 5 &&");
    std::fs::write(&bad, source).unwrap();
    let (ok, stdout, stderr) = run(&["policy", "check", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("bad.toml is refused: policy `revshare`, vote.close `five-votes`: `total >= 5 &&` at column 14"), "{stderr}");

    let (ok, _, stderr) = run(&[
        "policy",
        "check",
        dir.path().join("missing.toml").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("cannot read") && stderr.contains("missing.toml"),
        "{stderr}"
    );
}

#[test]
fn simulate_prints_the_decisions_of_an_event_log() {
    let (ok, stdout, stderr) = run(&["policy", "simulate", "--policy", GRANT, "--events", EXAMPLE]);
    assert!(ok, "{stderr}");
    for line in [
        "proposal 3 FAILED under policy version 1: closed by `tl3-disapproval`, failed by `tl3-disapproved`",
        "proposal 1 PASSED under policy version 1: closed by `tl3-approval`, passed by `tl3-approved`",
        "proposal 2 PASSED under policy version 1: closed by `day-passed`, passed by `majority-approved`",
        "proposal 4 PASSED under policy version 1: passed by rule `wallet-removed` without a vote",
        "→ tell cy: Your wallet was not added",
        "pool default: $wallet.example/bob ×1",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in\n{stdout}");
    }
    let (_, again, _) = run(&["policy", "simulate", "--policy", GRANT, "--events", EXAMPLE]);
    assert_eq!(
        stdout, again,
        "a replay prints the same decisions every time"
    );
}

#[test]
fn simulate_speaks_json_lines_and_one_line_switches_to_loomio() {
    let dir = tempfile::tempdir().unwrap();
    let loomio = dir.path().join("loomio.toml");
    let source = std::fs::read_to_string(GRANT)
        .unwrap()
        .replace("backend = \"discourse\"", "backend = \"loomio\"");
    std::fs::write(&loomio, source).unwrap();
    let (ok, stdout, stderr) = run(&[
        "policy",
        "simulate",
        "--policy",
        loomio.to_str().unwrap(),
        "--policy",
        CONSTITUTION,
        "--events",
        EXAMPLE,
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let opened: Vec<_> = lines.iter().filter(|l| l["event"] == "opened").collect();
    assert_eq!(opened.len(), 3);
    assert!(opened.iter().all(|l| l["backend"] == "loomio"), "{stdout}");
    let decided: Vec<_> = lines.iter().filter(|l| l["event"] == "decided").collect();
    assert_eq!(decided.len(), 4);
    assert_eq!(decided[0]["outcome"], "failed");
    assert_eq!(decided[0]["decided_by"], "tl3-disapproved");
    assert_eq!(
        decided[0]["closed_by"],
        serde_json::json!({"condition": "tl3-disapproval"})
    );
    assert!(
        decided[0]["decision_hash"]
            .as_str()
            .unwrap()
            .starts_with("0x")
    );
    let last = lines.last().unwrap();
    assert_eq!(last["event"], "pools");
    assert_eq!(
        last["pools"]["default"][0]["wallet"],
        "https://wallet.example/bob"
    );
}

#[test]
fn simulate_refuses_a_broken_log_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("events.jsonl");
    std::fs::write(&log, "{\"at\":\"2026-01-01T00:00:00Z\",\"fact\":\"tick\"}\n{\"at\":\"2026-01-01T00:00:00Z\",\"fact\":\"ballot\",\"proposal\":1,\"member\":\"x\",\"choices\":[\"approve\"]}\n").unwrap();
    let (ok, _, stderr) = run(&[
        "policy",
        "simulate",
        "--policy",
        GRANT,
        "--events",
        log.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        stderr
            .contains("events.jsonl cannot be replayed: event log line 2: there is no proposal 1"),
        "{stderr}"
    );
}
