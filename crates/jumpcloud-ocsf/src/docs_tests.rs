//! The event_type -> OCSF table in `docs/event-types.md` is generated from `mappings/` (the
//! vendor's tables, the deviations, this product's own table); this test fails when the
//! committed page is stale. Regenerate: `UPDATE_DOCS=1 cargo test -p jumpcloud-ocsf docs`.

use mapper::{MappingTables, Origin};

const PAGE: &str = "docs/event-types.md";
const EVENT_TYPES: &str = include_str!("../../../mappings/event_types.toml");

/// Text for one table cell (no line breaks, no `|`).
fn cell(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn class_cell(tables: &MappingTables, event_type: &str) -> (String, String, String) {
    let explained = tables.explain(event_type);
    let class = match explained.class {
        Some(class) => format!("{} ({})", class.caption(), class.uid()),
        None => "Base Event (0)".to_owned(),
    };
    let mut notes = explained.enrichments.clone();
    if explained.origin == Some(Origin::Deviation) {
        notes.insert(0, "**deviation** (below)".to_owned());
    }
    if let Some(alias) = &explained.same_as {
        notes.insert(0, format!("as the vendor's `{alias}`"));
    }
    (class, cell(&explained.activity), cell(&notes.join("; ")))
}

/// The page, generated from the tables.
fn generate() -> String {
    let tables = MappingTables::embedded().expect("the embedded tables load");
    let mut page = String::from(
        "# Directory Insights event_type -> OCSF 1.8.0\n\n\
         Generated from `mappings/` by `crates/jumpcloud-ocsf/src/docs_tests.rs`; do not edit \
         (regenerate with `UPDATE_DOCS=1 cargo test -p jumpcloud-ocsf docs`). \
         `jumpcloud-ocsf map --explain EVENT_TYPE` says the same of one type, with the fate of \
         each of the vendor's field rows.\n\n\
         JumpCloud's own OCSF mapping decides: each of the 551 event types it lists gets the \
         vendor's class and activity (`mappings/vendor/events.tsv`), and each raw field the vendor \
         types goes to the vendor's path (`mappings/vendor/fields.tsv`). Where this product \
         differs, `mappings/deviations.toml` says how and why (the tables below). Types the \
         vendor does not list: this product's own table (`mappings/event_types.toml`), then its \
         patterns, else a Base Event (class 0, activity 99 with `activity_name` = the event \
         type) with every source field in `unmapped.jumpcloud`.\n\n\
         ## Deviations: event types\n\n\
         | event_type | ours | the vendor's | why |\n|---|---|---|---|\n",
    );
    for (event_type, deviation) in tables.event_deviations() {
        let (class, activity, _) = class_cell(&tables, event_type);
        page.push_str(&format!(
            "| `{event_type}` | {class}, {activity} | {} | {} |\n",
            cell(&deviation.vendor),
            cell(&deviation.why)
        ));
    }
    page.push_str(
        "\n## Deviations: fields\n\nThe vendor's typed field rows this product does not follow \
         as the vendor writes them (every other row is followed).\n\n\
         | vendor rows | ours | why |\n|---|---|---|\n",
    );
    for deviation in tables.field_deviations() {
        let mut rows: Vec<String> = deviation
            .ocsf_fields
            .iter()
            .map(|path| format!("`{path}`"))
            .collect();
        if let Some(source) = &deviation.source {
            rows.push(format!("from `{source}`"));
        }
        if let Some(classes) = &deviation.classes {
            let names: Vec<&str> = classes.iter().map(|class| class.caption()).collect();
            rows.push(format!("in {}", names.join(", ")));
        }
        if let Some(types) = &deviation.event_types {
            rows.push(format!("for {} event types", types.len()));
        }
        page.push_str(&format!(
            "| {} | {} | {} |\n",
            rows.join(" "),
            cell(&deviation.ours),
            cell(&deviation.why)
        ));
    }
    page.push_str(
        "\n## Fills\n\nAttributes OCSF requires that the vendor's record leaves empty (its record \
         would be invalid OCSF), and what this product puts there.\n\n\
         | class | attribute | ours | why |\n|---|---|---|---|\n",
    );
    for fill in tables.fills() {
        page.push_str(&format!(
            "| {} ({}) | `{}` | {} | {} |\n",
            fill.class.caption(),
            fill.class.uid(),
            fill.attribute,
            cell(&fill.ours),
            cell(&fill.why)
        ));
    }
    page.push_str(
        "\n## The vendor's event types\n\n| event_type | OCSF class | activity | notes |\n\
         |---|---|---|---|\n",
    );
    let mut listed: Vec<&str> = tables.vendor_event_types().collect();
    listed.sort_unstable();
    for event_type in listed {
        let (class, activity, notes) = class_cell(&tables, event_type);
        page.push_str(&format!(
            "| `{event_type}` | {class} | {activity} | {notes} |\n"
        ));
    }
    page.push_str(
        "\n## Types the vendor does not list\n\n| event_type | OCSF class | activity | notes |\n\
         |---|---|---|---|\n",
    );
    for event_type in tables.own_event_types() {
        let (class, activity, notes) = class_cell(&tables, event_type);
        page.push_str(&format!(
            "| `{event_type}` | {class} | {activity} | {notes} |\n"
        ));
    }
    page.push_str(
        "\n### Patterns (in order, for types no table names exactly)\n\n\
         | pattern | OCSF class | activity |\n|---|---|---|\n",
    );
    for (pattern, class, activity) in tables.own_patterns() {
        page.push_str(&format!(
            "| `{pattern}` | {} ({}) | {} |\n",
            class.caption(),
            class.uid(),
            cell(&activity)
        ));
    }
    page.push_str(&alert_tables());
    page
}

/// The alert statuses and priorities of `event_types.toml`.
fn alert_tables() -> String {
    let tables: toml::Table = toml::from_str(EVENT_TYPES).expect("event_types.toml parses");
    let mut page = String::from(
        "\n## Alerts (Detection Finding 2004)\n\n\
         In the vendor's layout: `finding_info.uid` = `resource.alert_object_id`, `title` = \
         `resource.source_name`, `desc` = `resource.context.event_description`, the rule \
         (`resource.context.rule_object_id`, `rule_name`) in `finding_info.analytic` (type 1 \
         Rule); the triggering event (`resource.context.di_event`) in \
         `finding_info.related_events` (its OCSF `metadata.uid`) and its user, actor, source \
         endpoint and device in `evidences`; `is_alert` true. An alert without an id is a Base \
         Event. `alert_status_updated` is the vendor's Entity Management (the alert).\n\n\
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
    page.push_str(
        "\nAny other status: 99 with the source's text; none (on `alert_created`): 1 New.\n\n\
         | alert severity | severity_id |\n|---|---|\n",
    );
    if let Some(toml::Value::Table(priorities)) = tables.get("alert_priorities") {
        for (priority, id) in priorities {
            let id = id.as_integer().unwrap_or(0);
            page.push_str(&format!(
                "| `{priority}` | {id} {} |\n",
                mapper::ocsf::severity_caption(id as i32).unwrap_or("?")
            ));
        }
    }
    page.push_str("\nAny other severity: 99 with the source's text; none: 0 Unknown.\n");
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
    assert!(
        generated.contains("| `user_update` | Account Change (3001), from the event's `changes`")
    );
    assert!(
        generated.contains("| `mdm_command_result` | Scheduled Job Activity (1006) | 6 Start |"),
        "{generated}"
    );
    assert!(
        generated.contains("| `resolved` | 4 Resolved | yes |"),
        "{generated}"
    );
}
