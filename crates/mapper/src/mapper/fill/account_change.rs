//! Account Change (3001): the account acted on.

use crate::mapper::extract::*;
use crate::mapper::model::*;
use crate::source::RawObject;

impl<'a> OcsfEvent<'a> {
    pub(in crate::mapper) fn fill_account_change(&mut self, source: &RawObject<'a>) {
        if !self.user_open() {
            return;
        }
        let consumed = &mut self.consumed;
        let target = source
            .object("resource")
            .filter(|resource| is_person_type(resource.str("type").as_deref()))
            .and_then(|resource| person(resource, "resource", consumed));
        let user = target
            .or_else(|| {
                source.non_empty_str("username").map(|name| {
                    consumed.take("username");
                    Person {
                        name: Some(name),
                        ..Person::default()
                    }
                })
            })
            .or_else(|| {
                // Self-service changes (e.g. a user enrolling TOTP) name only the actor.
                source
                    .object("initiated_by")
                    .and_then(|object| person(object, "initiated_by", consumed))
            });
        self.user = user;
    }
}
