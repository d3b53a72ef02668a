//! vigie's safety content: the risk taxonomy ([`taxonomy`]), the built-in
//! suites of tasks with their datasets ([`suites`]), and the check of a
//! folder of public benchmark files against their provenance notes
//! (`vigie datasets check`). Everything here is data compiled into the binary, so a
//! suite runs offline with no file to find.
//!
//! ```
//! let areas = &vigie_suites::taxonomy::Taxonomy::builtin().areas;
//! assert!(areas.iter().any(|a| a.id == "cbrn"));
//! let planned = vigie_suites::suites::plan("refusal", None).unwrap();
//! assert!(!planned.is_empty());
//! ```

pub mod benchmarks;
pub mod suites;
pub mod taxonomy;
