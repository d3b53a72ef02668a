//! The stable JSON outputs (`log show --json`, `log export --format jsonl`,
//! `assess --json`, `compare --json`) come from typed structs whose JSON
//! Schemas are published under `docs/schemas/`. The committed schemas are
//! the ones the types give (`VIGIE_UPDATE_SCHEMAS=1` rewrites them), and
//! every output of a real run validates against them.

use super::*;

/// The published schemas: file name, and the schema its type gives.
fn schemas() -> Vec<(&'static str, Value)> {
    let to_value = |schema: schemars::Schema| serde_json::to_value(schema).unwrap();
    vec![
        (
            "log-show.schema.json",
            to_value(schemars::schema_for!(vigie_log::outputs::LogSummary)),
        ),
        (
            "log-export-record.schema.json",
            to_value(schemars::schema_for!(vigie_log::outputs::ExportedRecord)),
        ),
        (
            "assess.schema.json",
            to_value(schemars::schema_for!(vigie_assess::Assessment)),
        ),
        (
            "compare.schema.json",
            to_value(schemars::schema_for!(vigie_assess::Comparison)),
        ),
    ]
}

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/schemas")
}

#[test]
fn the_published_schemas_are_the_ones_the_types_give() {
    let update = std::env::var_os("VIGIE_UPDATE_SCHEMAS").is_some();
    for (name, schema) in schemas() {
        let path = docs_dir().join(name);
        let text = format!("{}\n", serde_json::to_string_pretty(&schema).unwrap());
        if update {
            std::fs::create_dir_all(docs_dir()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let published = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (VIGIE_UPDATE_SCHEMAS=1 writes it)", path.display())
        });
        assert_eq!(
            published, text,
            "{name} is out of date: run the tests with VIGIE_UPDATE_SCHEMAS=1 and commit it"
        );
    }
}

/// A validator for each schema, as the types give it (the published files
/// are held equal to these by the test above).
struct Validator {
    schemas: boon::Schemas,
    index: std::collections::HashMap<&'static str, boon::SchemaIndex>,
}

impl Validator {
    fn new() -> Validator {
        let mut compiled = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let mut index = std::collections::HashMap::new();
        for (name, value) in schemas() {
            let url = format!("file:///vigie/schemas/{name}");
            compiler.add_resource(&url, value).unwrap();
            index.insert(name, compiler.compile(&url, &mut compiled).unwrap());
        }
        Validator {
            schemas: compiled,
            index,
        }
    }

    fn check(&self, name: &str, instance: &Value) -> Result<(), String> {
        self.schemas
            .validate(instance, self.index[name])
            .map_err(|e| format!("{e:#}"))
    }
}

#[test]
fn every_json_output_validates_against_its_published_schema() {
    let validator = Validator::new();
    let ws = Workspace::new();
    let server = scripted(&["Write ransomware"]);
    let url = server.base_url();
    // Two runs of a task with groups, a failing sample and a judge-free refusal scorer.
    for _ in 0..2 {
        let out = ws.vigie(&eval_args(
            &url,
            "suite:refusal/harmful",
            &["--limit", "12"],
        ));
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    ws.write("arith.toml", ARITH_TASK);
    ws.dataset(
        "arith.jsonl",
        &[
            ("What is 2+2?", "4"),
            ("What is 2+2? [[fail:500:always]]", "4"),
        ],
    );
    let out = ws.vigie(&eval_args(
        &url,
        "arith.toml",
        &["--max-retries", "0", "--log-dir", "other"],
    ));
    assert_eq!(out.status.code(), Some(1));
    let logs = ws.logs();
    let failing = ws.only_log_in("other");
    let mut checked = 0;
    for log in logs.iter().chain([&failing]) {
        let log = log.to_str().unwrap();
        for extra in [&[][..], &["--samples"][..], &["--failed"][..]] {
            let mut args = vec!["log", "show", log, "--json"];
            args.extend_from_slice(extra);
            let out = ws.vigie(&args);
            assert!(out.status.success(), "{}", text(&out.stderr));
            let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
            validator
                .check("log-show.schema.json", &summary)
                .unwrap_or_else(|e| panic!("{log} {extra:?}: {e}\n{summary}"));
            checked += 1;
        }
        for record in ws.records(Path::new(log)) {
            validator
                .check("log-export-record.schema.json", &record)
                .unwrap_or_else(|e| panic!("{log}: {e}\n{record}"));
            checked += 1;
        }
    }
    let assessed = ws.vigie(&["assess", "logs", "--json"]);
    let assessment: Value = serde_json::from_slice(&assessed.stdout).unwrap();
    validator.check("assess.schema.json", &assessment).unwrap();
    let compared = ws.vigie(&[
        "compare",
        logs[0].to_str().unwrap(),
        logs[1].to_str().unwrap(),
        "--json",
    ]);
    assert!(compared.status.success(), "{}", text(&compared.stderr));
    let comparison: Value = serde_json::from_slice(&compared.stdout).unwrap();
    validator.check("compare.schema.json", &comparison).unwrap();
    assert!(checked > 20, "{checked}");

    // The schemas hold the outputs to their shapes: a broken output fails.
    let mut broken: Value = serde_json::from_slice(
        &ws.vigie(&["log", "show", failing.to_str().unwrap(), "--json"])
            .stdout,
    )
    .unwrap();
    broken["status"] = "finished".into();
    assert!(validator.check("log-show.schema.json", &broken).is_err());
    broken["status"] = "success".into();
    broken["samples"]["errors"] = "one".into();
    assert!(validator.check("log-show.schema.json", &broken).is_err());
    let mut record = ws.records(&failing).remove(0);
    record["error"] = serde_json::json!({ "kind": "gremlins", "message": "x" });
    assert!(validator
        .check("log-export-record.schema.json", &record)
        .is_err());
    record["error"] = Value::Null;
    record["messages"][0]["content"] = serde_json::json!([{ "type": "image" }]);
    assert!(validator
        .check("log-export-record.schema.json", &record)
        .is_err());
}
