//! User Access Management (3005): the user whose privileges changed.

use crate::mapper::extract::*;
use crate::mapper::model::*;
use crate::source::RawObject;

impl<'a> OcsfEvent<'a> {
    pub(in crate::mapper) fn fill_user_access(&mut self, source: &RawObject<'a>) {
        if !self.user_open() {
            return;
        }
        let consumed = &mut self.consumed;
        let user = source
            .object("resource")
            .filter(|resource| is_person_type(resource.str("type").as_deref()))
            .and_then(|resource| person(resource, "resource", consumed))
            .or_else(|| {
                source.non_empty_str("username").map(|name| {
                    consumed.take("username");
                    Person {
                        name: Some(name),
                        ..Person::default()
                    }
                })
            });
        self.user = user;
    }
}
