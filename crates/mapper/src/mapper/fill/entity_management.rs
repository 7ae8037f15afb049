//! Entity Management (3004): the object created, changed or deleted.

use std::borrow::Cow;

use crate::mapper::extract::*;
use crate::mapper::model::*;
use crate::source::RawObject;

impl<'a> OcsfEvent<'a> {
    pub(in crate::mapper) fn fill_entity_management(&mut self, source: &RawObject<'a>) {
        if !self.named_open(false) {
            return;
        }
        if let Some(entity) = resource_named(source, &mut self.consumed) {
            self.entity = Some(entity);
            return;
        }
        if let Some(system) = source.object("system") {
            let entity = Named {
                uid: system.non_empty_str("id"),
                name: system
                    .non_empty_str("hostname")
                    .or_else(|| system.non_empty_str("displayName")),
                kind: Some(Cow::Borrowed("system")),
            };
            if entity.is_usable() {
                for key in ["id", "hostname"] {
                    if system.get(key).is_some() {
                        self.consumed.take2("system", key);
                    }
                }
                self.entity = Some(entity);
            }
        }
    }
}
