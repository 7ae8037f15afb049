//! The event_type -> OCSF table in `docs/event-types.md` is generated from `mappings/`; this test
//! fails when the committed page is stale. Regenerate: `UPDATE_DOCS=1 cargo test -p jumpcloud-ocsf docs`.

use mapper::ocsf::OcsfClass;

const EVENT_TYPES: &str = include_str!("../../../mappings/event_types.toml");
const PAGE: &str = "docs/event-types.md";

fn class_cell(class: &str) -> String {
    match OcsfClass::from_schema_name(class) {
        Some(c) => format!("{} ({})", c.caption(), c.uid()),
        None => format!("`{class}`"),
    }
}

fn activity_cell(class: &str, activity: &toml::Value) -> String {
    match activity {
        toml::Value::Integer(id) => {
            let caption = OcsfClass::from_schema_name(class)
                .and_then(|c| c.activity_caption(*id as i32))
                .unwrap_or("?");
            format!("{id} {caption}")
        }
        toml::Value::String(rule) => match rule.as_str() {
            "from_changes" => "from `changes` (see below)".to_string(),
            "from_association" => "from `association` (see below)".to_string(),
            "from_verb" => "from the verb: create 1, update/patch 3, delete 4, else 99".to_string(),
            "from_status" => {
                "from the alert's status: 3 Close when it closes the finding, else 2 Update (see below)"
                    .to_string()
            }
            other => format!("`{other}`"),
        },
        other => format!("`{other}`"),
    }
}

fn extra_cell(entry: &toml::Table) -> String {
    let mut notes = Vec::new();
    if let Some(p) = entry.get("auth_protocol").and_then(toml::Value::as_integer) {
        notes.push(format!("auth_protocol_id {p}"));
    }
    if let Some(s) = entry.get("service").and_then(toml::Value::as_str) {
        notes.push(format!("service {s}"));
    }
    if let Some(privileges) = entry.get("privileges").and_then(toml::Value::as_array) {
        let list: Vec<String> = privileges
            .iter()
            .filter_map(|p| p.as_str())
            .map(|p| format!("`{p}`"))
            .collect();
        notes.push(format!("privileges {}", list.join(", ")));
    }
    if let Some(name) = entry.get("activity_name").and_then(toml::Value::as_str) {
        notes.push(format!("activity_name {name}"));
    }
    if let Some(factor) = entry.get("auth_factor").and_then(toml::Value::as_integer) {
        notes.push(format!("auth_factors factor_type_id {factor}"));
    }
    notes.join("; ")
}

/// The page, generated from `mappings/event_types.toml`.
fn generate() -> String {
    let tables: toml::Table =
        toml::from_str(EVENT_TYPES).expect("mappings/event_types.toml parses");
    let mut page = String::from(
        "# Directory Insights event_type -> OCSF 1.8.0\n\n\
         Generated from `mappings/event_types.toml` by `crates/jumpcloud-ocsf/src/docs_tests.rs`; do not edit \
         (regenerate with `UPDATE_DOCS=1 cargo test -p jumpcloud-ocsf docs`). Lookup order: an exact entry, \
         then the first matching pattern, else a Base Event (class 0, activity 99 with `activity_name` = the \
         event_type) with every source field in `unmapped.jumpcloud`. `user_update`/`admin_update` are \
         classified from `changes` (`mappings/account_changes.toml`: Disable 5 > Lock 9 > Enable 2 > Unlock 12 > \
         Password Change 3 > Other 99) and `association_change` from its connection \
         (`mappings/associations.toml`: user-user_group Group Management 3/4, user-system/application/... User \
         Access Management 1/2 with `privileges`, two non-user objects Entity Management 3).\n\n\
         ## Exact event types\n\n| event_type | OCSF class | activity | notes |\n|---|---|---|---|\n",
    );
    if let Some(toml::Value::Table(exact)) = tables.get("event_types") {
        let mut rows: Vec<(&String, &toml::Value)> = exact.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        for (event_type, entry) in rows {
            let Some(entry) = entry.as_table() else {
                continue;
            };
            let class = entry
                .get("class")
                .and_then(toml::Value::as_str)
                .unwrap_or("?");
            let activity = entry
                .get("activity")
                .cloned()
                .unwrap_or(toml::Value::Integer(99));
            page.push_str(&format!(
                "| `{event_type}` | {} | {} | {} |\n",
                class_cell(class),
                activity_cell(class, &activity),
                extra_cell(entry)
            ));
        }
    }
    page.push_str("\n## Patterns (in order, after the exact entries)\n\n| pattern | OCSF class | activity | notes |\n|---|---|---|---|\n");
    if let Some(toml::Value::Array(patterns)) = tables.get("patterns") {
        for pattern in patterns.iter().filter_map(toml::Value::as_table) {
            let matcher = pattern
                .get("match")
                .and_then(toml::Value::as_str)
                .unwrap_or("?");
            let class = pattern
                .get("class")
                .and_then(toml::Value::as_str)
                .unwrap_or("?");
            let activity = pattern
                .get("activity")
                .cloned()
                .unwrap_or(toml::Value::Integer(99));
            page.push_str(&format!(
                "| `{matcher}` | {} | {} | {} |\n",
                class_cell(class),
                activity_cell(class, &activity),
                extra_cell(pattern)
            ));
        }
    }
    page.push_str("\nAnything else (e.g. `ldap_search`, `mdm_*`, `software_*`, `passwordmanager_*`, new types): Base Event (0), activity 99.\n");
    page.push_str(
        "\n## Alerts (Detection Finding 2004)\n\n\
         `finding_info.uid` = the alert's id, `title`, `desc`, the rule in `finding_info.analytic` \
         (type 1 Rule), `created_time`/`modified_time` from the alert; the triggering event in \
         `finding_info.related_events` (its OCSF `metadata.uid`) and its user, actor, source endpoint \
         and device in `evidences`; `is_alert` true. An alert without an id is a Base Event.\n\n\
         | alert status | status_id | closes (activity 3) |\n|---|---|---|\n",
    );
    if let Some(toml::Value::Table(statuses)) = tables.get("alert_statuses") {
        for (status, entry) in statuses {
            let id = entry
                .get("status_id")
                .and_then(toml::Value::as_integer)
                .unwrap_or(0);
            let closes = entry
                .get("close")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            page.push_str(&format!(
                "| `{status}` | {id} {} | {} |\n",
                mapper::ocsf::finding_status_caption(id as i32).unwrap_or("?"),
                if closes { "yes" } else { "no" }
            ));
        }
    }
    page.push_str("\nAny other status: 99 with the source's text; none (on `alert_created`): 1 New.\n\n| alert priority | severity_id |\n|---|---|\n");
    if let Some(toml::Value::Table(priorities)) = tables.get("alert_priorities") {
        for (priority, id) in priorities {
            let id = id.as_integer().unwrap_or(0);
            page.push_str(&format!(
                "| `{priority}` | {id} {} |\n",
                mapper::ocsf::severity_caption(id as i32).unwrap_or("?")
            ));
        }
    }
    page.push_str("\nAny other priority: 99 with the source's text; none: 0 Unknown.\n");
    page
}

#[test]
fn event_type_table_in_docs_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(PAGE);
    let generated = generate();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &generated).expect("write docs/event-types.md");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{PAGE} is stale: regenerate with `UPDATE_DOCS=1 cargo test -p jumpcloud-ocsf docs`"
    );
    assert!(
        generated.contains("| `sso_auth` | Authentication (3002) | 1 Logon |"),
        "{generated}"
    );
    assert!(generated.contains("| `user_update` | Account Change (3001) | from `changes`"));
    assert!(
        generated.contains("| `alert_created` | Detection Finding (2004) | 1 Create |"),
        "{generated}"
    );
    assert!(
        generated.contains("| `resolved` | 4 Resolved | yes |"),
        "{generated}"
    );
}
