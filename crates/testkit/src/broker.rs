//! A Kafka broker of one test's own, started by `scripts/kafka-broker.sh` on a free port with its
//! own data directory, so the test may stop and restart it (its data kept) without disturbing
//! the shared broker other tests use.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A single-node Apache Kafka broker owned by a test; stopped when dropped.
pub struct PrivateBroker {
    port: u16,
    data: tempfile::TempDir,
}

impl PrivateBroker {
    /// Starts a broker on a free port (and the port after it for its controller).
    pub fn start() -> Self {
        let data = tempfile::tempdir().expect("a data directory for the broker");
        let port = free_port_pair();
        let broker = Self { port, data };
        broker.run("start");
        broker
    }

    /// `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the broker (a clean shutdown); its data stays.
    pub fn stop(&self) {
        self.run("stop");
    }

    /// Starts the stopped broker again on the same port and data.
    pub fn restart(&self) {
        self.run("start");
    }

    /// Kills the broker without a clean shutdown (`SIGKILL`); its data stays.
    pub fn kill(&self) {
        let pid_file = self.data.path().join("kafka").join("broker.pid");
        if let Ok(pid) = std::fs::read_to_string(&pid_file) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
            let _ = std::fs::remove_file(&pid_file);
            // Wait until the port is free again.
            for _ in 0..100 {
                if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }

    fn run(&self, command: &str) {
        let output = Command::new("bash")
            .arg(script())
            .args([command, "broker"])
            .env("KAFKA_PORT", self.port.to_string())
            .env("KAFKA_DATA_DIR", self.data.path().join("kafka"))
            .output()
            .expect("run scripts/kafka-broker.sh");
        assert!(
            output.status.success(),
            "kafka-broker.sh {command} (port {}): {}",
            self.port,
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PrivateBroker {
    /// Killed, not shut down cleanly: its data directory goes with it, and a clean shutdown of a
    /// broker whose clients are gone can take a minute (SIGKILL after 60 s), after the test.
    fn drop(&mut self) {
        self.kill();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kafka-broker.sh")
}

/// A free port whose successor is free too (the broker's controller listens there).
fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let Ok(listener) = std::net::TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let Ok(address) = listener.local_addr() else {
            continue;
        };
        let port = address.port();
        if port < u16::MAX && std::net::TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
    panic!("no free pair of ports on 127.0.0.1");
}
