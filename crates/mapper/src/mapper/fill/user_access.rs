//! User Access Management (3005): the user whose privileges changed.

use crate::mapper::extract::*;
use crate::mapper::model::*;
use crate::source::RawObject;

impl<'a> OcsfEvent<'a> {
    pub(in crate::mapper) fn fill_user_access(&mut self, source: &RawObject<'a>) -> bool {
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
        match user {
            Some(user) if !self.privileges.is_empty() => {
                self.user = Some(user);
                true
            }
            _ => false,
        }
    }
}
