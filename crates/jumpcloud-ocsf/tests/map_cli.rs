//! `jumpcloud-ocsf map`: exit codes, stderr line numbers, dead-letter contents and hostile input.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

mod common;

const BINARY: &str = env!("CARGO_BIN_EXE_jumpcloud-ocsf");
const PUBLIC_FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/public/jumpcloud-events"
);
const SAMPLES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/events/samples.ndjson"
);
const MAPPINGS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings");

const LOGIN: &str = r#"{"id":"648c6c758c2ac07fa1fdee94","timestamp":"2023-06-16T14:06:45.921Z","event_type":"admin_login_attempt","service":"directory","organization":"641b3db57090821c0b2f8183","initiated_by":{"id":"61e536ebdbbe784cb2e55fb5","type":"admin","email":"john.doe@example.com"},"client_ip":"1.2.3.4","success":true}"#;
const LDAP_SEARCH: &str = r#"{"id":"65a1b2c3d4e5f60000000001","timestamp":"2026-03-20T10:15:30Z","event_type":"ldap_search","service":"ldap","organization":"641b3db57090821c0b2f8183","username":"john.doe","success":true}"#;

fn map(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BINARY)
        .arg("map")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

fn events(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn maps_ndjson_from_stdin_and_exits_0() {
    let input = format!("{LOGIN}\n{LDAP_SEARCH}\n");
    let output = map(&[], input.as_bytes());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = events(&output);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["class_uid"], 3002);
    assert_eq!(
        events[0]["metadata"]["uid"],
        "8128aa98-a2cd-5f66-8e6c-1be81e5013a3"
    );
    assert_eq!(events[1]["class_uid"], 0);
    assert_eq!(events[1]["activity_name"], "ldap_search");
    assert_eq!(events[0]["raw_data"], LOGIN);
}

#[test]
fn maps_the_sample_files_and_the_output_validates() {
    let mut files: Vec<String> = std::fs::read_dir(PUBLIC_FIXTURES)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ndjson"))
        .map(|path| path.display().to_string())
        .collect();
    files.push(SAMPLES.to_owned());
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let output = map(&args, b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(events(&output).len(), 18);
    let records: Vec<&[u8]> = output
        .stdout
        .split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .collect();
    common::assert_valid_ocsf(&records);
}

#[test]
fn a_json_array_as_the_api_returns_is_accepted() {
    let input = format!("[\n  {LOGIN},\n  {LDAP_SEARCH},\n  42\n]\n");
    let output = map(&[], input.as_bytes());
    assert_eq!(output.status.code(), Some(1));
    let events = events(&output);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["metadata"]["event_code"], "admin_login_attempt");
    // The bad element is reported with its line.
    assert!(
        stderr(&output).contains("<stdin>:4: not a JSON object"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_lines_are_reported_with_line_numbers_dead_lettered_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let dead_letter = dir.path().join("dead.ndjson");
    let input = format!(
        "{LOGIN}\nnot json\n\n{{\"id\":\"x\",\"event_type\":\"user_create\"}}\n{LDAP_SEARCH}\n"
    );
    let output = map(
        &["--dead-letter", dead_letter.to_str().unwrap()],
        input.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(events(&output).len(), 2, "the good ones are still written");
    let messages = stderr(&output);
    assert!(messages.contains("<stdin>:2: not valid JSON"), "{messages}");
    assert!(
        messages.contains("<stdin>:4: no usable timestamp"),
        "{messages}"
    );
    let dead = std::fs::read_to_string(&dead_letter).unwrap();
    assert_eq!(
        dead,
        "not json\n{\"id\":\"x\",\"event_type\":\"user_create\"}\n"
    );
}

#[test]
fn invalid_utf8_bom_and_crlf() {
    let dir = tempfile::tempdir().unwrap();
    let dead_letter = dir.path().join("dead.ndjson");
    let mut input = Vec::new();
    input.extend_from_slice(b"\xEF\xBB\xBF");
    input.extend_from_slice(LOGIN.as_bytes());
    input.extend_from_slice(b"\r\n");
    input.extend_from_slice(b"{\"id\":\"\xff\xfe\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\r\n");
    input.extend_from_slice(LDAP_SEARCH.as_bytes());
    input.extend_from_slice(b"\r\n");
    let output = map(&["--dead-letter", dead_letter.to_str().unwrap()], &input);
    assert_eq!(output.status.code(), Some(1));
    let events = events(&output);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["class_uid"], 3002, "BOM accepted");
    assert!(stderr(&output).contains("<stdin>:2: not valid JSON: invalid UTF-8"));
    let dead = std::fs::read(&dead_letter).unwrap();
    assert_eq!(
        dead,
        b"{\"id\":\"\xff\xfe\",\"timestamp\":\"2026-01-01T00:00:00Z\"}\n".to_vec(),
        "dead letter keeps the raw bytes"
    );
}

#[test]
fn a_2_mb_string_and_deep_nesting_do_not_crash() {
    let big = "x".repeat(2 * 1024 * 1024);
    let huge = format!(
        "{{\"id\":\"h\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"event_type\":\"mdm_command_result\",\"blob\":\"{big}\"}}"
    );
    let deep = format!(
        "{{\"id\":\"d\",\"timestamp\":\"2026-01-01T00:00:00Z\",\"a\":{}{}}}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let input = format!("{huge}\n{deep}\n{LOGIN}\n");
    let output = map(&["--no-raw-data"], input.as_bytes());
    assert_eq!(output.status.code(), Some(1));
    let events = events(&output);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["unmapped"]["jumpcloud"]["blob"]
            .as_str()
            .map(str::len),
        Some(big.len())
    );
    assert!(events[0].get("raw_data").is_none(), "--no-raw-data");
    assert!(
        stderr(&output).contains("<stdin>:2: JSON nested deeper than 128 levels"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn usage_errors_exit_2() {
    let output = map(&["--no-such-flag"], b"");
    assert_eq!(output.status.code(), Some(2));
    let output = map(&["/definitely/not/here.ndjson"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("cannot read /definitely/not/here.ndjson"));
    let output = map(&["--mappings", "/definitely/not/here"], b"");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("event_types.toml"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn explain_says_how_an_event_type_is_mapped_and_why() {
    let output = map(&["--explain", "association_change"], b"");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("event type: association_change"), "{text}");
    assert!(text.contains("from:       a deviation"), "{text}");
    assert!(
        text.contains("vendor:     Group Management (3006) 3 Add User"),
        "{text}"
    );
    let output = map(&["--explain", "mdm_command_result"], b"");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("class:      Scheduled Job Activity (1006)"),
        "{text}"
    );
    assert!(
        text.contains("the vendor's table (mappings/vendor/events.tsv:"),
        "{text}"
    );
    assert!(
        text.contains("job.cmd_line <- command.payload: placed at that path"),
        "{text}"
    );
    assert!(text.contains("fills:      device:"), "{text}");
    let output = map(&["--explain", "quantum_widget_reticulated"], b"");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("Base Event (0)"), "{text}");
}

#[test]
fn custom_mappings_are_used_and_invalid_ones_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "event_types.toml",
        "account_changes.toml",
        "associations.toml",
    ] {
        std::fs::copy(Path::new(MAPPINGS).join(name), dir.path().join(name)).unwrap();
    }
    // One line makes ldap_search (the vendor's ldap_srch, here) an Authentication event.
    let mut event_types = std::fs::read_to_string(dir.path().join("event_types.toml"))
        .unwrap()
        .replace(
            "ldap_search = { same_as = \"ldap_srch\" }",
            "ldap_search = { class = \"authentication\", activity = 1, auth_protocol = 12 }",
        );
    std::fs::write(dir.path().join("event_types.toml"), &event_types).unwrap();
    let output = map(
        &["--mappings", dir.path().to_str().unwrap()],
        LDAP_SEARCH.as_bytes(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let events = events(&output);
    assert_eq!(events[0]["class_uid"], 3002);
    assert_eq!(events[0]["auth_protocol_id"], 12);

    let lines = event_types.lines().count();
    event_types.push_str("user_teleported = { class = \"account_change\", activity = 42 }\n");
    std::fs::write(dir.path().join("event_types.toml"), &event_types).unwrap();
    let output = map(&["--mappings", dir.path().to_str().unwrap()], b"");
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains(&format!("event_types.toml:{}: activity 42", lines + 1)),
        "{message}"
    );
}
