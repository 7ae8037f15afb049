//! `jumpcloud-ocsf validate`: the findings printed per line, the summary, the exit codes, and
//! that what `map` writes passes.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_jumpcloud-ocsf");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/events");

const LOGIN: &str = r#"{"id":"648c6c758c2ac07fa1fdee94","timestamp":"2023-06-16T14:06:45.921Z","event_type":"admin_login_attempt","service":"directory","organization":"641b3db57090821c0b2f8183","initiated_by":{"id":"61e536ebdbbe784cb2e55fb5","type":"admin","email":"john.doe@example.com"},"client_ip":"1.2.3.4","success":true}"#;

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(BINARY)
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

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The summary: the last line on stderr.
fn summary(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    stderr.lines().last().unwrap_or_default().to_owned()
}

/// One OCSF event as `map` writes it.
fn mapped_login() -> serde_json::Value {
    let output = run(&["map"], LOGIN.as_bytes());
    assert_eq!(output.status.code(), Some(0));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn what_map_writes_is_valid_even_when_strict() {
    let mut files: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|entry| entry.unwrap().path().display().to_string())
        .filter(|path| path.ends_with(".ndjson"))
        .collect();
    files.sort();
    let mut args = vec!["map"];
    args.extend(files.iter().map(String::as_str));
    let mapped = run(&args, b"");
    assert_eq!(mapped.status.code(), Some(0));
    let count = mapped.stdout.iter().filter(|b| **b == b'\n').count();
    assert!(count > 300, "{count} records");

    let output = run(&["validate", "--strict"], &mapped.stdout);
    assert_eq!(stdout(&output), "", "no findings");
    assert_eq!(
        summary(&output),
        format!("{count} records, {count} valid, 0 invalid")
    );
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn every_finding_is_one_line_with_source_line_and_path() {
    let valid = mapped_login();
    let mut wrong_type_uid = valid.clone();
    wrong_type_uid["type_uid"] = 300202.into();
    let mut unknown = valid.clone();
    unknown["user"]["shoe_size"] = 44.into();
    unknown.as_object_mut().unwrap().remove("time");
    let input = format!("{valid}\n\n{wrong_type_uid}\nnot json\n{unknown}\n[1]\n");
    let output = run(&["validate"], input.as_bytes());
    assert_eq!(
        stdout(&output),
        "<stdin>:3: type_name: warning: \"type_name\" is \"Authentication: Logon\" but \
         type_uid 300202 means \"Authentication: Logoff\". [attribute_enum_sibling_incorrect]\n\
         <stdin>:3: type_uid: type_uid 300202 should be class_uid*100 + activity_id = \
         3002*100 + 1 = 300201. [type_uid_mismatch]\n\
         <stdin>:4: (event): invalid JSON: expected ident at line 1 column 2 [json_invalid]\n\
         <stdin>:5: time: Required attribute \"time\" is missing. [attribute_required_missing]\n\
         <stdin>:5: user.shoe_size: Unknown attribute \"user.shoe_size\": not defined in object \
         user. (Source fields that have no OCSF attribute belong under \"unmapped\".) \
         [attribute_unknown]\n\
         <stdin>:6: (event): Event must be a JSON object, got array. [event_not_object]\n"
    );
    assert_eq!(summary(&output), "5 records, 1 valid, 4 invalid");
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn strict_counts_warnings_as_errors() {
    let mut event = mapped_login();
    event["status"] = "Failure".into(); // status_id is 1 (Success)
    let input = format!("{event}\n");
    let lenient = run(&["validate"], input.as_bytes());
    assert_eq!(
        stdout(&lenient),
        "<stdin>:1: status: warning: \"status\" is \"Failure\" but status_id 1 means \
         \"Success\". [attribute_enum_sibling_incorrect]\n"
    );
    assert_eq!(summary(&lenient), "1 records, 1 valid, 0 invalid");
    assert_eq!(lenient.status.code(), Some(0));

    let strict = run(&["validate", "--strict"], input.as_bytes());
    assert_eq!(
        stdout(&strict),
        "<stdin>:1: status: \"status\" is \"Failure\" but status_id 1 means \"Success\". \
         [attribute_enum_sibling_incorrect]\n"
    );
    assert_eq!(summary(&strict), "1 records, 0 valid, 1 invalid");
    assert_eq!(strict.status.code(), Some(1));
}

#[test]
fn files_are_named_and_an_unreadable_one_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.ndjson");
    let bad = dir.path().join("bad.ndjson");
    let event = mapped_login();
    let mut seconds = event.clone();
    seconds["time"] = 1_686_924_405.into();
    std::fs::write(&good, format!("{event}\r\n")).unwrap();
    std::fs::write(&bad, format!("{event}\n{seconds}\n")).unwrap();

    let output = run(
        &["validate", good.to_str().unwrap(), bad.to_str().unwrap()],
        b"",
    );
    assert_eq!(
        stdout(&output),
        format!(
            "{}:2: time: Attribute \"time\" value 1686924405 looks like epoch seconds; OCSF \
             timestamp_t is epoch milliseconds. [timestamp_not_milliseconds]\n",
            bad.display()
        )
    );
    assert_eq!(summary(&output), "3 records, 2 valid, 1 invalid");
    assert_eq!(output.status.code(), Some(1));

    let output = run(
        &["validate", "--no-timestamp-check", bad.to_str().unwrap()],
        b"",
    );
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    let missing = dir.path().join("missing.ndjson");
    let output = run(
        &[
            "validate",
            missing.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        b"",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot read {}", missing.display())),
        "{stderr}"
    );
    assert_eq!(summary(&output), "1 records, 1 valid, 0 invalid");
    assert_eq!(output.status.code(), Some(2));

    let output = run(&["validate", "--no-such-flag"], b"");
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn empty_input_is_zero_records_and_success() {
    let output = run(&["validate"], b"\n  \n");
    assert_eq!(stdout(&output), "");
    assert_eq!(summary(&output), "0 records, 0 valid, 0 invalid");
    assert_eq!(output.status.code(), Some(0));
}
