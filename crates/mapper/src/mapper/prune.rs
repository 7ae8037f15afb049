//! The placed values made whole or taken out: an object OCSF would refuse (a `job` without its
//! `name`, an `os` without its `type_id`) is completed where the value is implied, and otherwise
//! not written (its raw fields stay in `unmapped`). Also drops placed values below an object of
//! the typed code that is not there, and orders the rest by path for the writer.

use std::borrow::Cow;

use super::model::*;
use crate::tables::path_target;

/// Whether the typed code writes the object at `path` for this event.
fn typed_object_present(event: &OcsfEvent<'_>, path: &str) -> bool {
    let endpoint = event.src_endpoint.as_ref();
    match path {
        "actor" | "actor.user" => event.actor.is_some(),
        "user" => event.user.is_some(),
        "device" => event.device.is_some(),
        "device.location" => event.device.as_ref().is_some_and(|d| d.location.is_some()),
        "entity" => event.entity.is_some(),
        "group" => event.group.is_some(),
        "resources" => !event.resources.is_empty(),
        "service" => event.service_object.is_some(),
        "src_endpoint" => endpoint.is_some(),
        "src_endpoint.location" => endpoint.is_some_and(|e| e.location.is_some()),
        "src_endpoint.autonomous_system" => endpoint.is_some_and(|e| e.autonomous_system.is_some()),
        "http_request" => event.user_agent.is_some(),
        "finding_info" => event.finding.is_some(),
        "finding_info.analytic" => event
            .finding
            .as_ref()
            .is_some_and(|finding| finding.analytic.is_some()),
        _ => false,
    }
}

/// Whether a placed value lies below the path `prefix` (given as segments).
fn below(placed: &Placed<'_>, prefix: &[&str]) -> bool {
    placed.segments().len() > prefix.len() && placed.segments()[..prefix.len()] == *prefix
}

/// Completes placed objects with the enum ids they require: 99 Other where the caption is
/// placed (it keeps the source's text), else 0 Unknown (`device.type_id` of an `entity.device`);
/// an `os` without a name takes its type's text as the name.
fn complete_implied(event: &mut OcsfEvent<'_>) {
    let mut supplied: Vec<(String, Cow<'static, str>)> = Vec::new();
    for placed in &event.placed {
        let segments = placed.segments();
        for depth in placed.target.typed_depth + 1..segments.len() {
            let Some(rules) = placed
                .target
                .object_rules
                .get(depth - 1)
                .copied()
                .flatten()
                .filter(|rules| rules.completes)
            else {
                continue;
            };
            let prefix = segments[..depth].join(".");
            for required in rules.required.iter() {
                let Some(caption) = required.strip_suffix("_id") else {
                    continue;
                };
                let path = format!("{prefix}.{required}");
                let caption_path = format!("{prefix}.{caption}");
                let json = if event.has_placed(&caption_path) {
                    "99"
                } else {
                    "0"
                };
                if !event.has_placed(&path) && !supplied.iter().any(|(known, _)| *known == path) {
                    supplied.push((path, Cow::Borrowed(json)));
                }
            }
            if rules.object_type == "os" && rules.required.contains(&"name") {
                let name_path = format!("{prefix}.name");
                let type_json = event.placed.iter().find_map(|other| {
                    (other.segments().len() == depth + 1
                        && other.segments()[..depth] == segments[..depth]
                        && other.segments()[depth] == "type")
                        .then(|| other.json.to_string())
                });
                if let Some(json) = type_json
                    && !event.has_placed(&name_path)
                    && !supplied.iter().any(|(known, _)| *known == name_path)
                {
                    supplied.push((name_path, Cow::Owned(json)));
                }
            }
        }
    }
    for (path, json) in supplied {
        let target = path_target(event.class, &path);
        event.supply(target, json);
    }
}

/// Removes the placed values OCSF would refuse; sorts the rest by path.
pub(super) fn prune(event: &mut OcsfEvent<'_>) {
    if event.placed.is_empty() {
        return;
    }
    // Below an object of the typed code that this event does not have: nowhere to go.
    let mut index = 0;
    while index < event.placed.len() {
        let keep = match event.placed[index].target.typed_parent {
            Some(parent) => typed_object_present(event, parent),
            None => true,
        };
        if keep {
            index += 1;
        } else {
            event.placed.swap_remove(index);
        }
    }
    complete_implied(event);
    // Objects of the placed values only: their rules, innermost first, until nothing changes.
    loop {
        let mut failed: Option<Vec<&'static str>> = None;
        'search: for placed in &event.placed {
            let segments = placed.segments();
            for depth in (placed.target.typed_depth + 1..segments.len()).rev() {
                let prefix = &segments[..depth];
                let Some(rules) = placed.target.object_rules.get(depth - 1).copied().flatten()
                else {
                    continue;
                };
                let has = |name: &str| {
                    event
                        .placed
                        .iter()
                        .any(|other| below(other, prefix) && other.segments()[depth] == name)
                };
                let complete = rules.required.iter().all(|name| has(name))
                    && rules
                        .at_least_one
                        .iter()
                        .all(|group| group.iter().any(|name| has(name)));
                if !complete {
                    failed = Some(prefix.to_vec());
                    break 'search;
                }
            }
        }
        match failed {
            Some(prefix) => event.placed.retain(|placed| !below(placed, &prefix)),
            None => break,
        }
    }
    event.placed.sort_by(|a, b| a.segments().cmp(b.segments()));
}
