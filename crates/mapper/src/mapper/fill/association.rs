//! `association_change`: Group Management (3006), User Access Management (3005) or Entity
//! Management (3004), by the connection's two ends.

use std::borrow::Cow;

use crate::mapper::extract::*;
use crate::mapper::model::*;
use crate::ocsf::OcsfClass;
use crate::source::RawObject;
use crate::tables::{AssociationRule, MappingTables};

impl<'a> OcsfEvent<'a> {
    /// `association_change`: Group Management, User Access or Entity Management by its ends.
    pub(in crate::mapper) fn fill_association(
        &mut self,
        tables: &MappingTables,
        source: &RawObject<'a>,
    ) -> bool {
        let Some(association) = source.object("association") else {
            return false;
        };
        let Some(connection) = association.object("connection") else {
            return false;
        };
        let op = association.non_empty_str("op");
        let from = association_end(connection, "from");
        let to = association_end(connection, "to");
        let is_user = |end: &Option<Named<'_>>| {
            end.as_ref()
                .is_some_and(|end| end.kind.as_deref() == Some("user"))
        };
        let (user_end, other_end) = if is_user(&from) {
            (from.clone(), to.clone())
        } else if is_user(&to) {
            (to.clone(), from.clone())
        } else {
            // Between two objects: the `from` object was updated.
            let Some(entity) = from.or(to) else {
                return false;
            };
            self.class = OcsfClass::EntityManagement;
            self.activity_id = 3;
            self.entity = Some(entity);
            return true;
        };
        let (Some(user_end), Some(other_end)) = (user_end, other_end) else {
            return false;
        };
        let other_type = other_end.kind.as_deref().unwrap_or("");
        let Some(rule) = tables.associations.iter().find(|rule: &&AssociationRule| {
            rule.other_type
                .as_deref()
                .is_none_or(|expected| expected == other_type)
        }) else {
            return false;
        };
        self.class = rule.class;
        self.activity_id = match op.as_deref() {
            Some("add") => rule.add_activity,
            Some("remove") => rule.remove_activity,
            _ => 0,
        };
        self.user = Some(Person {
            uid: user_end.uid,
            name: user_end.name,
            email: None,
            kind: Some((1, Cow::Borrowed("User"))),
        });
        match rule.class {
            OcsfClass::GroupManagement => {
                self.group = Some(other_end);
            }
            _ => {
                self.privileges = privileges(&rule.privileges, Some(other_type));
                self.resources.push(other_end);
            }
        }
        true
    }
}
