//! One module per subcommand.

pub mod backfill;
pub mod check;
pub mod demo;
pub mod inventory;
pub mod map;
pub mod orgs;
pub mod respond;
pub mod run;
pub mod simulate;
pub mod validate;
