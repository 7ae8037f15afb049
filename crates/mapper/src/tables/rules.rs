//! The rule files beside the event-type table: `account_changes.toml` (which change of an
//! account is which Account Change activity) and `associations.toml` (what an association of a
//! user with another object is), in the same on-disk conventions as `config.rs`.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::config::{Source, activity_id};
use super::{AccountChangeRules, AssociationRule, ChangeRule, ScalarValue};
use crate::error::MappingError;
use crate::ocsf::OcsfClass;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChangeRule {
    field: String,
    from: Option<toml::Value>,
    from_not: Option<toml::Value>,
    to: Option<toml::Value>,
    activity: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccountChanges {
    priority: Spanned<Vec<i64>>,
    otherwise: Spanned<i64>,
    rules: Vec<Spanned<RawChangeRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssociationRule {
    other: String,
    class: String,
    add: i64,
    remove: i64,
    #[serde(default)]
    privileges: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAssociations {
    rules: Vec<Spanned<RawAssociationRule>>,
}

fn scalar(
    source: &Source<'_>,
    span: Range<usize>,
    value: Option<toml::Value>,
) -> Result<Option<ScalarValue>, MappingError> {
    Ok(match value {
        None => None,
        Some(toml::Value::String(text)) => Some(ScalarValue::String(text)),
        Some(toml::Value::Boolean(flag)) => Some(ScalarValue::Bool(flag)),
        Some(toml::Value::Integer(number)) => Some(ScalarValue::Integer(number)),
        Some(other) => {
            return Err(source.error(
                span,
                format!(
                    "from/to must be a string, boolean or integer, not {}",
                    other.type_str()
                ),
            ));
        }
    })
}

pub(super) fn parse_account_changes(
    path: &Path,
    text: &str,
) -> Result<AccountChangeRules, MappingError> {
    let source = Source { path, text };
    let raw: RawAccountChanges = source.parse()?;
    let class = OcsfClass::AccountChange;
    let priority_span = raw.priority.span();
    let priority = raw
        .priority
        .into_inner()
        .into_iter()
        .map(|id| activity_id(&source, class, id, priority_span.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let otherwise = activity_id(
        &source,
        class,
        *raw.otherwise.get_ref(),
        raw.otherwise.span(),
    )?;
    let mut rules = Vec::with_capacity(raw.rules.len());
    for rule in raw.rules {
        let span = rule.span();
        let rule = rule.into_inner();
        let activity = activity_id(
            &source,
            class,
            *rule.activity.get_ref(),
            rule.activity.span(),
        )?;
        if !priority.contains(&activity) {
            return Err(source.error(
                span,
                format!("activity {activity} of this rule is missing from `priority`"),
            ));
        }
        if rule.from.is_some() && rule.from_not.is_some() {
            return Err(source.error(span, "a rule gives either `from` or `from_not`, not both"));
        }
        rules.push(ChangeRule {
            field: rule.field,
            from: scalar(&source, span.clone(), rule.from)?,
            from_not: scalar(&source, span.clone(), rule.from_not)?,
            to: scalar(&source, span, rule.to)?,
            activity_id: activity,
        });
    }
    Ok(AccountChangeRules {
        priority,
        otherwise,
        rules,
    })
}

pub(super) fn parse_associations(
    path: &Path,
    text: &str,
) -> Result<Vec<AssociationRule>, MappingError> {
    let source = Source { path, text };
    let raw: RawAssociations = source.parse()?;
    let mut rules = Vec::with_capacity(raw.rules.len());
    for rule in raw.rules {
        let span = rule.span();
        let rule = rule.into_inner();
        let class = match rule.class.as_str() {
            "group_management" => OcsfClass::GroupManagement,
            "user_access" => OcsfClass::UserAccess,
            other => {
                return Err(source.error(
                    span,
                    format!(
                        "class {other:?}: association rules map to group_management or user_access"
                    ),
                ));
            }
        };
        let add_activity = activity_id(&source, class, rule.add, span.clone())?;
        let remove_activity = activity_id(&source, class, rule.remove, span.clone())?;
        if class == OcsfClass::UserAccess && rule.privileges.is_empty() {
            return Err(source.error(span, "class user_access needs privileges"));
        }
        rules.push(AssociationRule {
            other_type: (rule.other != "*").then_some(rule.other),
            class,
            add_activity,
            remove_activity,
            privileges: rule.privileges,
        });
    }
    Ok(rules)
}
