//! One module per subcommand.

pub mod backfill;
pub mod check;
pub mod demo;
pub mod map;
pub mod run;
pub mod simulate;
