use super::*;

const DATA: &str = "{\"id\": \"s1\", \"question\": \"What is 2+2?\", \"answer\": \"4\"}\n{\"id\": \"s2\", \"question\": \"What is 3+3?\", \"answer\": \"6\"}\n";

const ARITH: &str = r#"name = "arith"

[dataset]
path = "arith.jsonl"
id = "id"
input = "question"
target = "answer"

[[solver]]
system_message = "Answer with a number only."

[[solver]]
generate = {}

[[scorer]]
includes = {}
"#;

fn check(source: &str) -> Result<Task, TaskError> {
    let read = |path: &str| -> Result<Vec<u8>, std::io::Error> {
        match path {
            "arith.jsonl" => Ok(DATA.as_bytes().to_vec()),
            "mc.jsonl" => {
                Ok(b"{\"q\": \"Pick\", \"options\": [\"a\", \"b\"], \"answer\": 1}\n".to_vec())
            }
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "No such file or directory (os error 2)",
            )),
        }
    };
    compile("task.toml", source, &read, &|p: &str| p.to_string())
}

fn error(source: &str) -> String {
    check(source)
        .expect_err("the task must be refused")
        .to_string()
}

#[test]
fn the_issue_example_compiles() {
    let task = check(ARITH).unwrap();
    assert_eq!(task.name, "arith");
    assert_eq!(task.samples.len(), 2);
    assert_eq!(task.solvers.len(), 2);
    assert_eq!(task.scorers[0].name, "includes");
    assert_eq!(task.source_sha256, crate::sha256_hex(ARITH.as_bytes()));
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let e = error(&ARITH.replace("target = \"answer\"", "target = \"answer\"\ntraget = \"x\""));
    assert!(
        e.starts_with("task.toml:8:1: unknown field `traget`"),
        "{e}"
    );
    assert!(
        e.contains("traget = \"x\""),
        "the offending line is shown: {e}"
    );
}

#[test]
fn wrong_type_names_the_field() {
    let e = error(&ARITH.replace("input = \"question\"", "input = 3"));
    assert!(
        e.starts_with(
            "task.toml:6:9: field `dataset.input`: invalid type: integer `3`, expected a string"
        ),
        "{e}"
    );
}

#[test]
fn toml_syntax_errors_have_a_line() {
    let e = error(&ARITH.replace("name = \"arith\"", "name = \"arith"));
    assert!(e.starts_with("task.toml:1:"), "{e}");
}

#[test]
fn missing_required_field() {
    let e = error(&ARITH.replace("input = \"question\"\n", ""));
    assert!(e.contains("field `dataset.input`: missing"), "{e}");
    assert!(e.starts_with("task.toml:3:1:"), "points at [dataset]: {e}");
}

#[test]
fn unknown_solver_and_scorer() {
    let e = error(&ARITH.replace("generate = {}", "generat = {}"));
    assert!(
        e.starts_with("task.toml:13:1:") && e.contains("unknown variant `generat`"),
        "{e}"
    );
    let e = error(&ARITH.replace("includes = {}", "include = {}"));
    assert!(
        e.starts_with("task.toml:16:1:") && e.contains("unknown variant `include`"),
        "{e}"
    );
}

#[test]
fn missing_dataset_file() {
    let e = error(&ARITH.replace("arith.jsonl", "nope.jsonl"));
    assert!(
        e.starts_with("task.toml:4:8: field `dataset.path`: cannot read `nope.jsonl`"),
        "{e}"
    );
}

#[test]
fn mapping_a_field_the_dataset_lacks() {
    let e = error(&ARITH.replace("target = \"answer\"", "target = \"solution\""));
    assert!(e.starts_with("task.toml:7:10: field `dataset.target`: the dataset `arith.jsonl` has no field `solution`"), "{e}");
}

#[test]
fn bad_regex_and_bad_group() {
    let e = error(&ARITH.replace("includes = {}", "pattern = { regex = \"ANSWER: (\\\\d+\" }"));
    assert!(
        e.starts_with("task.toml:16:1: scorer 1 (pattern): field `regex`: regex parse error"),
        "{e}"
    );
}

#[test]
fn template_syntax_and_undefined_variables() {
    let e = error(&ARITH.replace(
        "system_message = \"Answer with a number only.\"",
        "system_message = \"{{ input \"",
    ));
    assert!(
        e.starts_with("task.toml:10:1: solver 1 (system_message): template syntax error"),
        "{e}"
    );
    let e = error(&ARITH.replace(
        "system_message = \"Answer with a number only.\"",
        "prompt_template = \"Q: {{ inptu }}\"",
    ));
    assert!(
        e.starts_with("task.toml:10:1: solver 1 (prompt_template): template: undefined value"),
        "{e}"
    );
    // Metadata fields are template variables.
    assert!(check(&ARITH.replace(
        "system_message = \"Answer with a number only.\"",
        "prompt_template = \"{{ id }}: {{ input }} ({{ target }})\""
    ))
    .is_ok());
}

#[test]
fn duplicate_scorer_names_and_unknown_metrics() {
    let e = error(&format!(
        "{ARITH}\n[[scorer]]\nincludes = {{ ignore_case = false }}\n"
    ));
    assert!(
        e.contains("another scorer is already named `includes`"),
        "{e}"
    );
    assert!(check(&format!(
        "{ARITH}\n[[scorer]]\nincludes = {{ ignore_case = false, name = \"strict\" }}\n"
    ))
    .is_ok());
    let e = error(&ARITH.replace(
        "includes = {}",
        "includes = { metrics = [\"accuracy\", \"median\"] }",
    ));
    assert!(
        e.contains("field `metrics`: unknown metric `median`"),
        "{e}"
    );
}

#[test]
fn bad_epochs_and_reducer() {
    let e = error(&ARITH.replace("name = \"arith\"", "name = \"arith\"\nepochs = 0"));
    assert!(
        e.starts_with("task.toml:2:10: field `epochs`: must be at least 1"),
        "{e}"
    );
    let e = error(&ARITH.replace(
        "name = \"arith\"",
        "name = \"arith\"\nepochs_reducer = \"median\"",
    ));
    assert!(
        e.starts_with("task.toml:2:18: field `epochs_reducer`: unknown reducer `median`"),
        "{e}"
    );
}

#[test]
fn no_scorer_is_an_error() {
    let e = error(&ARITH.replace("[[scorer]]\nincludes = {}\n", ""));
    assert!(e.contains("the task has no `[[scorer]]`"), "{e}");
}

#[test]
fn generation_settings_are_checked() {
    let e = error(&ARITH.replace("generate = {}", "generate = { temprature = 0.5 }"));
    assert!(e.contains("unknown field `temprature`"), "{e}");
    let task = check(&ARITH.replace(
        "name = \"arith\"",
        "name = \"arith\"\n[generate]\ntemperature = 0.0\nmax_tokens = 5\n",
    ))
    .unwrap();
    assert_eq!(task.generate.max_tokens, Some(5));
}

#[test]
fn multiple_choice_tasks() {
    let source = r#"name = "mc"
[dataset]
path = "mc.jsonl"
input = "q"
choices = "options"
target = "answer"
[[solver]]
multiple_choice = { shuffle = true }
[[scorer]]
choice = {}
"#;
    let task = check(source).unwrap();
    assert_eq!(task.samples[0].target, ["B"]);
    let e = error(
        &source
            .replace("choices = \"options\"\n", "")
            .replace("target = \"answer\"", "target = \"q\""),
    );
    assert!(
        e.contains("a `choice` scorer needs `dataset.choices`"),
        "{e}"
    );
}

#[test]
fn likelihood_multiple_choice_cannot_also_reason() {
    let mc = |solver: &str| {
        format!("name = \"t\"\n[dataset]\npath = \"mc.jsonl\"\ninput = \"q\"\nchoices = \"options\"\ntarget = \"answer\"\n[[solver]]\nmultiple_choice = {solver}\n[[scorer]]\nchoice = {{}}\n")
    };
    if let Err(e) = check(&mc("{ method = \"loglikelihood\" }")) {
        panic!("{e}");
    }
    let err = error(&mc("{ method = \"loglikelihood\", cot = true }"));
    assert!(
        err.contains("chain of thought needs method = \"generate\""),
        "{err}"
    );
    let err = error(&mc("{ method = \"likelihood\" }"));
    assert!(
        err.contains("method") && err.contains("loglikelihood"),
        "{err}"
    );
}

#[test]
fn a_task_with_a_guard_judge_checks_its_prompt_with_the_categories() {
    let source = ARITH.replace(
        "includes = {}",
        "judge = { rubric = \"llama-guard\", name = \"harm\" }",
    );
    let task = check(&source).unwrap();
    assert_eq!(task.scorers[0].judge_ref().unwrap().id, "llama-guard");
    // A missing policy file is named in the error.
    let e = error(&ARITH.replace("includes = {}", "judge = { policy = \"acme.toml\" }"));
    assert!(e.contains("field `policy`: acme.toml:"), "{e}");
}
