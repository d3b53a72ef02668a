//! vigie's safety content: the built-in suites of tasks with their datasets
//! ([`suites`]), and the check of a folder of public benchmark files against
//! their provenance notes (`vigie datasets check`). Everything here is data
//! compiled into the binary, so a suite runs offline with no file to find.
//! Every task names risk areas of the taxonomy (`vigie_assess::taxonomy`;
//! held by a test).
//!
//! ```
//! let planned = vigie_suites::suites::plan("refusal", None).unwrap();
//! assert!(!planned.is_empty());
//! ```

pub mod benchmarks;
pub mod suites;
