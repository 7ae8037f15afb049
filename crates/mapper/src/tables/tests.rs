use std::path::Path;

use super::*;

const ACCOUNT_CHANGES: &str = EMBEDDED_ACCOUNT_CHANGES;
const ASSOCIATIONS: &str = EMBEDDED_ASSOCIATIONS;

const EVENTS_HEADER: &str =
    "service\tevent_type\tclass_name\tclass_uid\tactivity_name\tactivity_id\ttype_uid\tfields\n";
const FIELDS_HEADER: &str = "service\tocsf_field\tsource\tliteral\ttransform\tusage\n";

/// Tables from an event_types.toml text alone: no vendor table, no deviations (the own
/// table's rules).
fn with_event_types(text: &str) -> Result<MappingTables, MappingError> {
    with_vendor(text, EVENTS_HEADER, FIELDS_HEADER, "")
}

/// Tables from an event_types.toml text and a vendor table and deviations of the test's own.
fn with_vendor(
    event_types: &str,
    events: &str,
    fields: &str,
    deviations: &str,
) -> Result<MappingTables, MappingError> {
    MappingTables::from_all(MappingSources {
        event_types: (Path::new("event_types.toml"), event_types),
        account_changes: (Path::new("account_changes.toml"), ACCOUNT_CHANGES),
        associations: (Path::new("associations.toml"), ASSOCIATIONS),
        deviations: (Path::new("deviations.toml"), deviations),
        vendor_events: (Path::new("vendor/events.tsv"), events),
        vendor_fields: (Path::new("vendor/fields.tsv"), fields),
    })
}

#[test]
fn embedded_tables_load() {
    let tables = MappingTables::embedded().unwrap();
    assert!(
        tables.event_type_count() >= 551,
        "{}",
        tables.event_type_count()
    );
    let found = tables.lookup("user_suspended").unwrap();
    assert_eq!(found.classification.class, OcsfClass::AccountChange);
    assert_eq!(found.classification.activity, ActivityRule::Fixed(5));
    assert!(matches!(found.classification.origin, Origin::Vendor { .. }));
    // The vendor's class, the vendor's rows.
    let found = tables.lookup("mdm_command_result").unwrap();
    assert_eq!(found.classification.class, OcsfClass::ScheduledJobActivity);
    assert!(!found.classification.placements.is_empty());
    // A deviation, with its reason.
    let found = tables.lookup("association_change").unwrap();
    assert_eq!(found.classification.origin, Origin::Deviation);
    assert!(tables.event_deviations.contains_key("association_change"));
    // A type the vendor does not list: this product's own table.
    let found = tables.lookup("ldap_search").unwrap();
    assert_eq!(found.classification.class, OcsfClass::DatastoreActivity);
    assert_eq!(found.classification.origin, Origin::Own);
}

#[test]
fn a_listed_type_takes_only_enrichments_and_a_deviation_only_a_listed_type() {
    let events = format!(
        "{EVENTS_HEADER}directory_user_admin\tuser_create\tAccount Change\t3001\tCreate\t1\t300101\t10\n\
         directory_user_admin\tuser_admin_grant\tUser Access Management\t3005\tAssign Privileges\t1\t300501\t10\n"
    );
    let privileges = "[event_types]\nuser_admin_grant = { privileges = [\"admin\"] }\n";
    let tables = with_vendor(privileges, &events, FIELDS_HEADER, "").unwrap();
    let found = tables.lookup("user_create").unwrap();
    assert_eq!(found.classification.activity, ActivityRule::Fixed(1));
    assert_eq!(found.classification.origin, Origin::Vendor { line: 2 });

    let text =
        format!("{privileges}user_create = {{ class = \"account_change\", activity = 2 }}\n");
    let error = with_vendor(&text, &events, FIELDS_HEADER, "").unwrap_err();
    assert_eq!(
        (error.line, error.file.as_path()),
        (3, Path::new("event_types.toml"))
    );
    assert!(
        error
            .reason
            .contains("in the vendor's table (vendor/events.tsv:2)"),
        "{error}"
    );

    let error = with_vendor("", &events, FIELDS_HEADER, "").unwrap_err();
    assert!(
        error
            .reason
            .contains("user_admin_grant is User Access Management in the vendor's table"),
        "{error}"
    );

    let deviation = "[event_types.user_teleported]\nclass = \"account_change\"\nactivity = 1\n\
                     vendor = \"-\"\nwhy = \"-\"\n";
    let error = with_vendor(privileges, &events, FIELDS_HEADER, deviation).unwrap_err();
    assert_eq!(error.file, Path::new("deviations.toml"));
    assert!(
        error.reason.contains("not in the vendor's table"),
        "{error}"
    );

    let deviation = "[event_types.user_create]\nclass = \"account_change\"\nactivity = 99\n\
                     vendor = \"Account Change 1 Create\"\nwhy = \"a test\"\n";
    let tables = with_vendor(privileges, &events, FIELDS_HEADER, deviation).unwrap();
    let found = tables.lookup("user_create").unwrap();
    assert_eq!(found.classification.activity, ActivityRule::Fixed(99));
    assert_eq!(found.classification.origin, Origin::Deviation);
}

#[test]
fn a_vendor_row_the_product_cannot_follow_needs_a_stated_deviation() {
    let events = format!(
        "{EVENTS_HEADER}workflow\tworkflow_run\tScheduled Job Activity\t1006\tStart\t6\t100606\t10\n"
    );
    let fields = format!(
        "{FIELDS_HEADER}workflow\tjob.name\tresource.name\t\t\tworkflow_run\n\
         workflow\tsrc_endpoint.ip\tclient_ip\t\t\tall events in this service\n"
    );
    let error = with_vendor("", &events, &fields, "").unwrap_err();
    assert_eq!(
        (error.file.as_path(), error.line),
        (Path::new("vendor/fields.tsv"), 3)
    );
    assert!(
        error
            .reason
            .contains("src_endpoint.ip is not an attribute of Scheduled Job Activity"),
        "{error}"
    );
    let deviation = "[[fields]]\nocsf_fields = [\"src_endpoint.ip\"]\n\
                     classes = [\"scheduled_job_activity\"]\nours = \"-\"\nwhy = \"-\"\n";
    let tables = with_vendor("", &events, &fields, deviation).unwrap();
    let placements = &tables
        .lookup("workflow_run")
        .unwrap()
        .classification
        .placements;
    assert_eq!(placements.len(), 1);
    assert_eq!(placements[0].line, 2);
}

#[test]
fn exact_entries_win_over_patterns_and_patterns_capture_the_verb() {
    let tables = MappingTables::embedded().unwrap();
    // `system_fde_key_decrypt` matches `system_*`; the verb is what `*` matched.
    let found = tables.lookup("system_fde_key_decrypt").unwrap();
    assert_eq!(found.verb, "fde_key_decrypt");
    assert_eq!(tables.verb_activity(found.verb), None);
    // last-word fallback: `..._settings_update` -> update -> 3
    assert_eq!(tables.verb_activity("settings_update"), Some(3));
    assert_eq!(tables.verb_activity("create"), Some(1));
    // `user_update_provision` is exact (from_changes), not the `*_provision` patterns.
    let found = tables.lookup("user_update_provision").unwrap();
    assert_eq!(found.classification.activity, ActivityRule::FromChanges);
    assert!(tables.lookup("quantum_widget").is_none());
}

#[test]
fn a_new_event_type_is_one_line() {
    let text = format!(
        "{EMBEDDED_EVENT_TYPES}\nuser_teleported = {{ class = \"account_change\", activity = 99 }}\n"
    );
    let tables = MappingTables::from_sources(
        (Path::new("event_types.toml"), &text),
        (Path::new("account_changes.toml"), ACCOUNT_CHANGES),
        (Path::new("associations.toml"), ASSOCIATIONS),
    )
    .unwrap();
    let found = tables.lookup("user_teleported").unwrap();
    assert_eq!(found.classification.class, OcsfClass::AccountChange);
}

#[test]
fn unknown_class_names_file_line_and_reason() {
    let text = "[event_types]\nuser_create = { class = \"account_change\", activity = 1 }\n\
                user_delete = { class = \"acount_change\", activity = 6 }\n";
    let error = with_event_types(text).unwrap_err();
    assert_eq!(error.file, Path::new("event_types.toml"));
    assert_eq!(error.line, 3);
    assert!(
        error.reason.contains("unknown class \"acount_change\""),
        "{error}"
    );
    assert!(
        error.to_string().starts_with("event_types.toml:3: "),
        "{error}"
    );
}

#[test]
fn activity_not_in_class_is_rejected_with_its_line() {
    let text = "[event_types]\n\n\ngroup_create = { class = \"group_management\", activity = 9 }\n";
    let error = with_event_types(text).unwrap_err();
    assert_eq!(error.line, 4);
    assert!(
        error
            .reason
            .contains("activity 9 is not an activity_id of group_management"),
        "{error}"
    );
}

#[test]
fn syntax_errors_carry_the_line() {
    let text =
        "[event_types]\nuser_create = { class = \"account_change\", activity = 1 }\noops = \n";
    let error = with_event_types(text).unwrap_err();
    assert_eq!(error.line, 3, "{error}");
}

#[test]
fn unknown_keys_are_rejected() {
    let text = "[event_types]\nuser_create = { class = \"account_change\", activty = 1 }\n";
    let error = with_event_types(text).unwrap_err();
    assert_eq!(error.line, 2, "{error}");
    assert!(error.reason.contains("activty"), "{error}");
}

#[test]
fn rules_need_the_right_class() {
    let text =
        "[event_types]\nx_update = { class = \"group_management\", activity = \"from_changes\" }\n";
    let error = with_event_types(text).unwrap_err();
    assert!(
        error.reason.contains("needs class account_change"),
        "{error}"
    );
    let text = "[event_types]\nx_grant = { class = \"user_access\", activity = 1 }\n";
    let error = with_event_types(text).unwrap_err();
    assert!(error.reason.contains("needs privileges"), "{error}");
    let text =
        "[event_types]\nx = { class = \"account_change\", activity = 1, auth_protocol = 10 }\n";
    let error = with_event_types(text).unwrap_err();
    assert!(
        error.reason.contains("only for class authentication"),
        "{error}"
    );
}

#[test]
fn patterns_need_exactly_one_star() {
    let text = "patterns = [\n  { match = \"app_create\", class = \"entity_management\", activity = 1 },\n]\n";
    let error = with_event_types(text).unwrap_err();
    assert_eq!(error.line, 2, "{error}");
    assert!(error.reason.contains("has no `*`"), "{error}");
}

#[test]
fn account_change_rules_are_checked() {
    let error = MappingTables::from_sources(
        (Path::new("event_types.toml"), EMBEDDED_EVENT_TYPES),
        (
            Path::new("account_changes.toml"),
            "priority = [5]\notherwise = 99\nrules = [\n  { field = \"password\", activity = 3 },\n]\n",
        ),
        (Path::new("associations.toml"), ASSOCIATIONS),
    )
    .unwrap_err();
    assert_eq!(error.file, Path::new("account_changes.toml"));
    assert_eq!(error.line, 4);
    assert!(error.reason.contains("missing from `priority`"), "{error}");
}

#[test]
fn load_dir_reads_the_files_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(EVENT_TYPES_FILE), EMBEDDED_EVENT_TYPES).unwrap();
    std::fs::write(
        dir.path().join(ACCOUNT_CHANGES_FILE),
        EMBEDDED_ACCOUNT_CHANGES,
    )
    .unwrap();
    let error = MappingTables::load_dir(dir.path()).unwrap_err();
    assert_eq!(error.file, dir.path().join(ASSOCIATIONS_FILE));
    assert!(error.reason.starts_with("cannot read"), "{error}");
    std::fs::write(dir.path().join(ASSOCIATIONS_FILE), EMBEDDED_ASSOCIATIONS).unwrap();
    let loaded = MappingTables::load_dir(dir.path()).unwrap();
    assert_eq!(loaded, MappingTables::embedded().unwrap());
}

#[test]
fn alert_statuses_and_priorities_are_looked_up_loosely() {
    let tables = MappingTables::embedded().unwrap();
    let resolved = tables.alert_status("Resolved").unwrap();
    assert_eq!((resolved.status_id, resolved.closes), (4, true));
    let in_progress = tables.alert_status("In Progress").unwrap();
    assert_eq!((in_progress.status_id, in_progress.closes), (2, false));
    assert_eq!(tables.alert_status("in-progress"), Some(in_progress));
    assert_eq!(tables.alert_status("escalated"), None);
    assert_eq!(tables.alert_priority(" HIGH "), Some(4));
    assert_eq!(tables.alert_priority("P1"), None);
    let found = tables.lookup("alert_updated").unwrap();
    assert_eq!(found.classification.class, OcsfClass::DetectionFinding);
    assert_eq!(found.classification.activity, ActivityRule::FromAlertStatus);
    let found = tables.lookup("totp_finish_enrollment").unwrap();
    assert_eq!(found.classification.auth_factor, Some(7));
}

#[test]
fn bad_alert_tables_and_misplaced_keys_name_the_line() {
    let cases = [
        (
            "[alert_statuses]\nnew = { status_id = 1 }\nodd = { status_id = 7 }\n",
            3,
            "status_id 7 is not a Detection Finding status_id",
        ),
        (
            // Spelled twice after folding case: the later key in TOML's order is named.
            "[alert_statuses]\nnew = { status_id = 1 }\nNew = { status_id = 2 }\n",
            2,
            "alert status \"new\" is given twice",
        ),
        (
            "[alert_priorities]\nlow = 2\nextreme = 9\n",
            3,
            "severity_id 9 is not an OCSF severity_id",
        ),
        (
            "[event_types]\nuser_create = { class = \"account_change\", activity = \"from_status\" }\n",
            2,
            "activity \"from_status\" needs class detection_finding",
        ),
        (
            "[event_types]\nuser_create = { class = \"user_access\", activity = 1, privileges = [\"a\"], auth_factor = 7 }\n",
            2,
            "auth_factor is only for class authentication or account_change",
        ),
        (
            "[event_types]\ntotp_x = { class = \"account_change\", activity = 10, auth_factor = 12 }\n",
            2,
            "auth_factor 12 is not an OCSF auth_factors[].factor_type_id",
        ),
    ];
    for (text, line, reason) in cases {
        let error = with_event_types(text).unwrap_err();
        assert_eq!(
            (error.line, error.reason.as_str()),
            (line, reason),
            "{text}"
        );
    }
}

#[test]
fn explain_says_where_a_class_comes_from_and_what_becomes_of_the_vendors_rows() {
    let tables = MappingTables::embedded().unwrap();
    let explained = tables.explain("mdm_command_result");
    assert_eq!(explained.class, Some(OcsfClass::ScheduledJobActivity));
    assert_eq!(explained.activity, "6 Start");
    assert!(matches!(explained.origin, Some(Origin::Vendor { .. })));
    let job_name = explained
        .fields
        .iter()
        .find(|row| row.ocsf_field == "job.cmd_line")
        .unwrap();
    assert_eq!(job_name.fate, RowFate::Placed);
    assert!(
        explained
            .fills
            .iter()
            .any(|fill| fill.attribute == "device")
    );
    let text = explained.to_string();
    assert!(text.contains("Scheduled Job Activity (1006)"), "{text}");

    let explained = tables.explain("association_change");
    assert_eq!(explained.origin, Some(Origin::Deviation));
    assert_eq!(
        explained.vendor.map(|(class, ..)| class),
        Some(OcsfClass::GroupManagement)
    );
    assert!(
        explained.to_string().contains("ours differs"),
        "{explained}"
    );

    let explained = tables.explain("sso_auth");
    let continent = explained
        .fields
        .iter()
        .find(|row| row.ocsf_field == "src_endpoint.location.continent")
        .unwrap();
    assert!(matches!(continent.fate, RowFate::Deviation { .. }));

    let explained = tables.explain("ldap_search");
    assert_eq!(explained.same_as.as_deref(), Some("ldap_srch"));
    assert!(!explained.fields.is_empty());

    let explained = tables.explain("quantum_widget_reticulated");
    assert_eq!(explained.class, None);
    assert!(explained.to_string().contains("Base Event"));
}
