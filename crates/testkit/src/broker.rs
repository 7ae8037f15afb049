//! A Kafka broker of one test's own, started by `scripts/kafka-broker.sh` on a free port with its
//! own data directory, so the test may stop and restart it (its data kept) without disturbing
//! the shared broker other tests use.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A single-node Apache Kafka broker owned by a test; stopped when dropped.
pub struct PrivateBroker {
    port: u16,
    data: tempfile::TempDir,
    /// The lock that reserves `port` and its successor while this broker lives.
    _port_reservation: std::fs::File,
}

impl PrivateBroker {
    /// Starts a broker on a free port (and the port after it for its controller), one outside the
    /// kernel's ephemeral range so that nothing else takes it while the broker is stopped.
    pub fn start() -> Self {
        let data = tempfile::tempdir().expect("a data directory for the broker");
        let (port, reservation) = free_port_pair();
        let broker = Self {
            port,
            data,
            _port_reservation: reservation,
        };
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

/// A free local port for a listener a test's child process opens (a metrics endpoint, say),
/// outside the kernel's ephemeral range and reserved until this process exits, so that no
/// outgoing connection takes it between now and the child's bind.
pub fn reserved_port() -> u16 {
    static RESERVATIONS: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());
    let (port, reservation) = free_port_pair();
    RESERVATIONS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(reservation);
    port
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/kafka-broker.sh")
}

/// The first port of the kernel's ephemeral range (where outgoing connections take their local
/// ports), when the kernel says.
fn ephemeral_range_low() -> Option<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A free port whose successor is free too (the broker's controller listens there), below the
/// kernel's ephemeral range and reserved for this process.
///
/// Below the ephemeral range because the broker gives its ports up while a test has it stopped:
/// a port the kernel may hand out to any client's outgoing connection (another test's Kafka
/// client, say) can be taken in the meantime, and the restart then fails with "Address already
/// in use". Reserved by a lock file held as long as the process lives, so that two test
/// processes do not pick the same pair (a stopped broker's ports look free to a bind check).
fn free_port_pair() -> (u16, std::fs::File) {
    let ephemeral_low = ephemeral_range_low().unwrap_or(32768);
    let low: u16 = 20000;
    let high = ephemeral_low.saturating_sub(2).max(low + 1000);
    // Pairs start at even ports, so that two reserved pairs never share a port.
    let pairs = u32::from(high - low) / 2;
    let locks = std::env::temp_dir().join("jumpcloud-ocsf-test-ports");
    std::fs::create_dir_all(&locks).expect("a directory for port reservations");
    let first = uuid::Uuid::new_v4().as_u128() as u32 % pairs;
    for step in 0..pairs {
        let port = low + 2 * ((first + step) % pairs) as u16;
        let Ok(lock) = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(locks.join(port.to_string()))
        else {
            continue;
        };
        if lock.try_lock().is_err() {
            continue;
        }
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(port + 1) {
            return (port, lock);
        }
    }
    panic!("no free pair of ports on 127.0.0.1 in {low}..{high}");
}

#[cfg(test)]
mod tests {
    use super::{ephemeral_range_low, free_port_pair};

    #[test]
    fn reserved_port_pairs_are_distinct_bindable_and_below_the_ephemeral_range() {
        let ephemeral_low = ephemeral_range_low().expect("the kernel's ephemeral range");
        let pairs: Vec<_> = (0..20).map(|_| free_port_pair()).collect();
        let mut ports: Vec<u16> = pairs.iter().flat_map(|(p, _)| [*p, p + 1]).collect();
        assert!(ports.iter().all(|p| *p < ephemeral_low), "{ports:?}");
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 40, "every pair reserved once: {ports:?}");
        for port in ports {
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("a reserved port is free");
        }
    }
}
