//! Consumed-field bookkeeping: the source paths the OCSF output took, so that `unmapped` gets
//! exactly the rest.

use crate::source::{FieldUse, RawObject};

/// A source path the OCSF output took (up to four keys deep). A field is left out of
/// `unmapped` only when its exact path was taken; an object with some keys taken is written
/// with the rest.
pub(super) type SourcePath = [&'static str; 4];

/// How many taken paths are kept without allocating (an event takes about 10 to 30).
pub(super) const INLINE_PATHS: usize = 48;

/// The source paths the OCSF output took: the first [`INLINE_PATHS`] in place, any more in
/// `spilled` (no allocation per event in practice).
#[derive(Debug)]
pub(super) struct Consumed {
    inline: [SourcePath; INLINE_PATHS],
    len: usize,
    spilled: Vec<SourcePath>,
}

impl Default for Consumed {
    fn default() -> Consumed {
        Consumed {
            inline: [["", "", "", ""]; INLINE_PATHS],
            len: 0,
            spilled: Vec::new(),
        }
    }
}

impl Consumed {
    pub(super) fn push(&mut self, path: SourcePath) {
        match self.inline.get_mut(self.len) {
            Some(slot) => {
                *slot = path;
                self.len += 1;
            }
            None => self.spilled.push(path),
        }
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
        self.spilled.clear();
    }

    pub(super) fn paths(&self) -> impl Iterator<Item = &SourcePath> {
        self.inline[..self.len].iter().chain(&self.spilled)
    }

    pub(super) fn take(&mut self, top: &'static str) {
        self.push([top, "", "", ""]);
    }

    pub(super) fn take2(&mut self, top: &'static str, key: &'static str) {
        self.push([top, key, "", ""]);
    }

    pub(super) fn take3(&mut self, top: &'static str, middle: &'static str, key: &'static str) {
        self.push([top, middle, key, ""]);
    }

    /// Takes a source path of the tables.
    pub(super) fn take_path(&mut self, path: &crate::tables::SourceRef) {
        self.push(path.keys);
    }

    /// Marks the source fields the OCSF output took, for [`super::write::write_residual`].
    pub(super) fn apply(&self, source: &RawObject<'_>) {
        for path in self.paths() {
            let mut object = Some(source);
            let depth = path.iter().take_while(|key| !key.is_empty()).count();
            for (level, key) in path[..depth].iter().enumerate() {
                let Some(field) = object.and_then(|object| object.field(key)) else {
                    break;
                };
                if level + 1 == depth {
                    field.used.set(FieldUse::Taken);
                } else {
                    if field.used.get() == FieldUse::Unused {
                        field.used.set(FieldUse::Partly);
                    }
                    object = field.object();
                }
            }
        }
    }
}
