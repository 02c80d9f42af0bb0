//! Replicas as real processes: the service binary on a loopback port, on a database it shares
//! with other replicas, with its JSON log lines kept for the test to search.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_revshare-oracle");

/// The admin token every replica is started with.
pub const ADMIN_TOKEN: &str = "replica-admin-token-0123456789";

/// One replica process.
pub struct Replica {
    /// Its name (`REVSHARE_REPLICAS__ID`).
    pub name: String,
    /// `http://127.0.0.1:port`.
    pub address: String,
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
}

impl Replica {
    /// Starts `serve --role role` on `database_url` with `env` added, and waits until it listens.
    pub fn start(
        name: &str,
        role: &str,
        database_url: &str,
        workdir: &Path,
        env: &[(&str, &str)],
    ) -> Replica {
        let mut replica = Self::spawn(name, role, database_url, workdir, env);
        let listening = replica.wait_for_log(Duration::from_secs(60), |line| {
            line["message"] == "listening"
        });
        let address = listening["address"]
            .as_str()
            .expect("an address")
            .to_string();
        replica.address = format!("http://{address}");
        replica
    }

    /// Starts the process without waiting for anything.
    pub fn spawn(
        name: &str,
        role: &str,
        database_url: &str,
        workdir: &Path,
        env: &[(&str, &str)],
    ) -> Replica {
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--role", role])
            .current_dir(workdir)
            .env_remove("RUST_LOG")
            .env("REVSHARE_LISTEN", "127.0.0.1:0")
            .env("REVSHARE_DATABASE_URL", database_url)
            .env("REVSHARE_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("REVSHARE_LOG__FORMAT", "json")
            .env("REVSHARE_ORACLE__ENABLED", "false")
            .env("REVSHARE_REPLICAS__ID", name)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("the binary starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let kept = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let entry = serde_json::from_str(&line)
                    .unwrap_or_else(|_| serde_json::json!({ "message": line }));
                kept.lock().unwrap().push(entry);
            }
        });
        Replica {
            name: name.to_string(),
            address: String::new(),
            child,
            lines,
        }
    }

    /// The first log line `matches` accepts, waiting for it up to `patience`.
    pub fn wait_for_log(&mut self, patience: Duration, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(line) = self.lines.lock().unwrap().iter().find(|l| matches(l)) {
                return line.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Let the reader thread drain what the process wrote before it exited.
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "replica {} exited ({status}) before the awaited log line; it logged:\n{}",
                    self.name,
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "replica {} never logged the awaited line; it logged:\n{}",
                self.name,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every log line so far that `matches` accepts.
    pub fn logged(&self, matches: impl Fn(&Value) -> bool) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| matches(l))
            .cloned()
            .collect()
    }

    /// The log so far, one line per entry.
    pub fn log_text(&self) -> String {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits for the process to exit by itself, up to `patience`; its exit status.
    pub fn wait_exit(&mut self, patience: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                std::thread::sleep(Duration::from_millis(200));
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "replica {} did not exit",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no shutdown code runs, and the operating system closes its sockets.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The jobs `/readyz` says this replica runs now.
    pub async fn jobs(&self, client: &reqwest::Client) -> Vec<String> {
        let ready: Value = client
            .get(format!("{}/readyz", self.address))
            .send()
            .await
            .expect("the replica answers")
            .json()
            .await
            .expect("readiness is JSON");
        ready["jobs"]
            .as_array()
            .expect("a list of jobs")
            .iter()
            .map(|job| job.as_str().unwrap().to_string())
            .collect()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}
