//! The binary as an admin runs it: help on every command, clear errors with a non-zero exit, the
//! service on its defaults, JSON logs, and a clean stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_revshare-oracle");

fn run(args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let output = Command::new(BIN)
        .args(args)
        .envs(envs.iter().copied())
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_command_has_help() {
    for (args, expect) in [
        (vec!["--help"], "serve"),
        (vec!["serve", "--help"], "--config"),
        (vec!["config", "--help"], "--config"),
        (vec!["index", "--help"], "--once"),
        (vec!["audit", "--help"], "--evidence-from"),
    ] {
        let (ok, stdout, _) = run(&args, &[]);
        assert!(ok, "{args:?}");
        assert!(stdout.contains(expect), "{args:?}: {stdout}");
    }
}

#[test]
fn a_bad_configuration_fails_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "listn = \"127.0.0.1:1\"\n").unwrap();
    let (ok, _, stderr) = run(&["config", "--config", bad.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(
        stderr.contains("error:") && stderr.contains("listn"),
        "{stderr}"
    );
    let (ok, _, stderr) = run(
        &[
            "serve",
            "--config",
            dir.path().join("missing.toml").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert!(stderr.contains("missing.toml"), "{stderr}");
}

#[test]
fn config_prints_the_effective_settings_without_secrets() {
    let (ok, stdout, _) = run(
        &["config"],
        &[
            ("REVSHARE_ADMIN_TOKEN", "hunter2-admin-token"),
            ("REVSHARE_LISTEN", "127.0.0.1:9999"),
            (
                "REVSHARE_CHAIN__RPC_URL",
                "https://node.example/v3/hunter2-rpc-key",
            ),
        ],
    );
    assert!(ok);
    assert!(stdout.contains("listen = \"127.0.0.1:9999\""), "{stdout}");
    assert!(
        stdout.contains("database_url = \"sqlite://data/revshare.db\""),
        "{stdout}"
    );
    assert!(!stdout.contains("hunter2"), "{stdout}");

    shows_redacted(
        &["config"],
        "postgres://oracle:hunter2@db.example/revshare?sslmode=require&password=hunter2",
        true,
        "database_url = \"postgres://oracle:***@db.example/revshare?sslmode=require&password=***\"",
    );
}

/// Runs `args` with `database_url` (whose secret is `hunter2`) and checks the outcome, that the
/// output shows `redacted`, and that it never shows the secret.
fn shows_redacted(args: &[&str], database_url: &str, succeeds: bool, redacted: &str) {
    let (ok, stdout, stderr) = run(args, &[("REVSHARE_DATABASE_URL", database_url)]);
    assert_eq!(ok, succeeds, "{stdout}{stderr}");
    let shown = if succeeds { stdout } else { stderr };
    assert!(shown.contains(redacted), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
}

#[test]
fn an_unreachable_database_fails_without_showing_its_password() {
    shows_redacted(
        &["serve"],
        "postgres://oracle:hunter2@127.0.0.1:1/revshare",
        false,
        "cannot open database postgres://oracle:***@127.0.0.1:1/revshare",
    );
    shows_redacted(
        &["serve"],
        "postgres://127.0.0.1:1/revshare?user=oracle&password=hunter2",
        false,
        "password=***",
    );
}

fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the service did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `serve` in `dir` on a free loopback port, logging JSON to a piped stderr at its configured level.
fn serve_command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .current_dir(dir)
        .env("REVSHARE_LISTEN", "127.0.0.1:0")
        .env("REVSHARE_LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped());
    command
}

#[test]
fn serve_runs_on_defaults_logs_json_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve_command(dir.path())
        .env("REVSHARE_ADMIN_TOKEN", "hunter2-admin-token")
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    let address = loop {
        let line = lines
            .next()
            .expect("the service logs until it listens")
            .unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        seen.push(line.clone());
        if entry["message"] == "listening" {
            break entry["address"].as_str().unwrap().to_string();
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let body = runtime.block_on(async {
        reqwest::get(format!("http://{address}/healthz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert_eq!(body, "ok");
    assert!(
        dir.path().join("data/revshare.db").is_file(),
        "the SQLite file is created on first run"
    );

    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_for_exit(&mut child);
    assert!(status.success(), "a SIGTERM stop is clean: {status:?}");
    seen.extend(lines.map_while(Result::ok));
    assert!(seen.iter().any(|l| l.contains("\"stopped\"")), "{seen:?}");
    assert!(
        !seen.iter().any(|l| l.contains("hunter2")),
        "the admin token is never logged"
    );
}

#[test]
fn a_node_that_cannot_be_reached_is_logged_without_its_url() {
    relayer_failure_is_logged_without_the_node_url(None);
}

#[test]
fn at_trace_level_no_log_line_names_the_nodes_url_or_its_credentials() {
    relayer_failure_is_logged_without_the_node_url(Some("trace"));
}

/// Runs the service with a node that refuses, at `rust_log` (the configured level when `None`),
/// until the relayer logs its failure; no line may hold the URL's secret parts.
fn relayer_failure_is_logged_without_the_node_url(rust_log: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("serve")
        .current_dir(dir.path())
        .env("REVSHARE_LISTEN", "127.0.0.1:0")
        .env("REVSHARE_LOG__FORMAT", "json")
        .env("REVSHARE_ADMIN_TOKEN", "admin-token-for-the-relayer-test")
        // Port 1 refuses; the userinfo and the path stand for a hosted node's credentials.
        .env(
            "REVSHARE_CHAIN__RPC_URL",
            "http://relay:hunter2-password@127.0.0.1:1/v3/hunter2-rpc-key",
        )
        .env_remove("RUST_LOG");
    if let Some(level) = rust_log {
        command.env("RUST_LOG", level);
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut child = KillOnDrop(child);
    let (send, lines) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let mut seen = Vec::new();
    let next_entry = |seen: &mut Vec<String>| {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the service keeps logging");
        seen.push(line.clone());
        serde_json::from_str::<serde_json::Value>(&line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"))
    };
    let address = loop {
        let entry = next_entry(&mut seen);
        if entry["message"] == "listening" {
            break entry["address"].as_str().unwrap().to_string();
        }
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let admin = |request: reqwest::RequestBuilder| {
            request.bearer_auth("admin-token-for-the-relayer-test")
        };
        let created = admin(client.post(format!("http://{address}/v1/admin/communities")))
            .json(&serde_json::json!({"slug": "forum", "name": "The Forum"}))
            .send()
            .await
            .unwrap();
        assert!(created.status().is_success(), "{created:?}");
        let pool = admin(client.put(format!(
            "http://{address}/v1/admin/communities/forum/pools/default"
        )))
        .json(&serde_json::json!({"entries": [{"wallet": "$wallet.example/alice", "weight": 1}]}))
        .send()
        .await
        .unwrap();
        assert!(pool.status().is_success(), "{pool:?}");
    });
    let failure = loop {
        let entry = next_entry(&mut seen);
        if entry["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("relaying a report failed"))
        {
            break entry;
        }
    };
    assert!(
        failure["error"].as_str().unwrap().contains("<rpc url>"),
        "the failure says where, without saying the URL: {failure}"
    );
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    let leaks: Vec<&String> = seen.iter().filter(|l| l.contains("hunter2")).collect();
    assert!(
        leaks.is_empty(),
        "the node's URL is never logged: {leaks:?}"
    );
}

/// A service process that is killed when the test ends, passed or failed.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads a JSON-logging service's lines until it says where it listens.
fn listening_address(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> String {
    loop {
        let line = lines
            .next()
            .expect("the service logs until it listens")
            .unwrap();
        let entry: serde_json::Value = serde_json::from_str(&line).unwrap();
        if entry["message"] == "listening" {
            return entry["address"].as_str().unwrap().to_string();
        }
    }
}

/// One `GET /healthz` on a new connection; the answer, or why there was none.
fn healthz(address: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .map_err(|e| e.to_string())?;
    Ok(answer)
}

#[test]
fn idle_and_trickling_clients_neither_starve_the_service_nor_stop_its_shutdown() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    // A low open-file limit, as on a small host: the idle clients below outnumber it.
    let mut child = Command::new("sh")
        .args(["-c", &format!("ulimit -n 64 && exec '{BIN}' serve")])
        .current_dir(dir.path())
        .env("REVSHARE_LISTEN", "127.0.0.1:0")
        .env("REVSHARE_LOG__FORMAT", "json")
        .env("REVSHARE_ORACLE__ENABLED", "false")
        .env("REVSHARE_HTTP__HEADER_READ_TIMEOUT_MS", "300")
        .env("REVSHARE_HTTP__MAX_CONNECTIONS", "24")
        .env("REVSHARE_HTTP__SHUTDOWN_GRACE_MS", "500")
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = listening_address(&mut lines);
    let logs = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());

    let idle: Vec<std::net::TcpStream> = (0..80)
        .filter_map(|_| std::net::TcpStream::connect(&address).ok())
        .collect();
    assert!(
        idle.len() > 64,
        "more idle clients than the service has files"
    );
    let answered = (0..100).find_map(|_| match healthz(&address) {
        Ok(answer) if answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok") => Some(answer),
        _ => {
            std::thread::sleep(Duration::from_millis(100));
            None
        }
    });
    assert!(
        answered.is_some(),
        "idle clients are closed after the header timeout, and /healthz answers"
    );

    // A client stuck in the middle of a request body when SIGTERM arrives.
    let mut trickling = std::net::TcpStream::connect(&address).unwrap();
    trickling
        .write_all(
            b"POST /v1/admin/communities HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"slug\"",
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_for_exit(&mut child);
    assert!(
        status.success(),
        "the grace period ends the shutdown: {status:?}"
    );
    let logs = logs.join().unwrap();
    assert!(logs.iter().any(|l| l.contains("\"stopped\"")), "{logs:?}");
    drop((idle, trickling));
}

/// Writes `request` on a new connection and reads the whole answer (the service closes it).
fn raw_exchange(address: &str, request: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The service may answer and close before it has read everything; what matters is the answer.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The last answer of a raw exchange, as (status line, content type, problem body).
fn last_answer(raw: &str) -> (String, String, serde_json::Value) {
    let start = raw.rfind("HTTP/1.1 ").expect("an answer");
    let (head, body) = raw[start..].split_once("\r\n\r\n").expect("a head");
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("content-type: "))
        .unwrap_or_default()
        .to_string();
    let status = head.lines().next().unwrap().to_string();
    let body = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    (status, content_type, body)
}

#[test]
fn requests_the_server_cannot_parse_get_problem_details() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = serve_command(dir.path())
        .env("REVSHARE_ORACLE__ENABLED", "false")
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let child = KillOnDrop(child);
    let address = listening_address(&mut lines);
    let long_uri = format!(
        "GET /v1/communities/{} HTTP/1.1\r\nHost: test\r\n\r\n",
        "a".repeat(100_000)
    );
    let big_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: test\r\n{}\r\n",
        (0..40)
            .map(|i| format!("x-filler-{i}: {}\r\n", "b".repeat(16_000)))
            .collect::<String>()
    );
    let keep_alive_then_long = format!("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n{}", long_uri);
    for (request, status, slug) in [
        (long_uri.as_str(), "HTTP/1.1 414", "uri-too-long"),
        (
            keep_alive_then_long.as_str(),
            "HTTP/1.1 414",
            "uri-too-long",
        ),
        (big_headers.as_str(), "HTTP/1.1 431", "headers-too-large"),
        (
            "GET /healthz HTTP/1.1\r\nHost: test\r\nno colon here\r\n\r\n",
            "HTTP/1.1 400",
            "malformed-request",
        ),
        (
            "GET /hea lthz HTTP/1.1\r\n\r\n",
            "HTTP/1.1 400",
            "malformed-request",
        ),
    ] {
        let raw = raw_exchange(&address, request.as_bytes());
        let (line, content_type, body) = last_answer(&raw);
        assert!(line.starts_with(status), "{line} for {:.60}", request);
        assert_eq!(content_type, "application/problem+json", "{raw:.400}");
        assert_eq!(body["type"], format!("/problems/{slug}"), "{raw:.400}");
    }
    let health = healthz(&address).unwrap();
    assert!(
        health.starts_with("HTTP/1.1 200"),
        "the service goes on: {health}"
    );
    drop(child);
}
