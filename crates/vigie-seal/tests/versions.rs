//! The manifests of logs written by earlier format versions still verify
//! (fixtures in vigie-log's `tests/data`): version 2, 3 and 4 logs are intact,
//! version 1 logs have no manifest and say so, and a signature added today
//! to an older log verifies.

use std::path::PathBuf;

use vigie_seal::Problem;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../vigie-log/tests/data")
        .join(name)
}

#[test]
fn older_logs_verify_or_say_they_have_no_manifest() {
    for version in [2, 3, 4] {
        for task in ["fixture", "mc"] {
            let check =
                vigie_seal::verify_log(&fixture(&format!("v{version}-{task}.vlog")), None).unwrap();
            assert_eq!(check.problems, [Problem::Unsigned], "v{version}-{task}");
        }
    }
    let check = vigie_seal::verify_log(&fixture("v1-fixture.vlog"), None).unwrap();
    assert!(
        check.problems.contains(&Problem::NoManifest),
        "{:?}",
        check.problems
    );

    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("v2-fixture.vlog");
    std::fs::copy(fixture("v2-fixture.vlog"), &copy).unwrap();
    let key = vigie_seal::generate_key().unwrap();
    vigie_seal::sign_log(&copy, &key).unwrap();
    let check = vigie_seal::verify_log(&copy, Some(&key.public())).unwrap();
    assert!(check.ok(), "{:?}", check.problems);
}
