//! Group Management (3006): the group.

use crate::mapper::extract::*;
use crate::mapper::model::*;
use crate::source::RawObject;

impl<'a> OcsfEvent<'a> {
    pub(in crate::mapper) fn fill_group_management(&mut self, source: &RawObject<'a>) {
        if self.named_open(true) {
            self.group = resource_named(source, &mut self.consumed);
        }
    }
}
