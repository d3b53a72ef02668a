//! The manifests against golden files and the Job API's field rules.

use std::path::Path;

use serde_json::json;

use super::*;

fn campaign(split: Split) -> Campaign {
    crate::definition::example(split)
}

fn options() -> KubeOptions {
    KubeOptions {
        shards: 16,
        parallelism: Some(8),
        image: "ghcr.io/example/vigie:0.1.0".into(),
        claim: "vigie-campaigns".into(),
        mount_path: "/campaigns".into(),
        folder_in_volume: "frontier-2026-12".into(),
        secret: "vigie-keys".into(),
        namespace: Some("evals".into()),
        backoff_limit_per_index: 3,
        cpu: Some("2".into()),
        memory: Some("8Gi".into()),
        credentials: vec!["OPENAI_API_KEY".into(), "ANTHROPIC_API_KEY".into()],
    }
}

#[test]
fn the_indexed_job_and_the_merge_job_match_their_golden_files() {
    let dir = Path::new("/home/aisi/frontier-2026-12");
    let manifests = kube_manifests(dir, &campaign(Split::Sample), &options()).unwrap();
    insta::assert_snapshot!("indexed_job", to_yaml(&manifests.shards, "the shards"));
    insta::assert_snapshot!("merge_job", to_yaml(&manifests.merge.unwrap(), "the merge"));
    let by_task = kube_manifests(dir, &campaign(Split::Task), &options()).unwrap();
    assert!(
        by_task.merge.is_none(),
        "runs dealt out whole have nothing to merge"
    );
}

#[test]
fn keys_come_from_the_secret_by_reference_and_never_in_clear() {
    let manifests =
        kube_manifests(Path::new("/c/camp"), &campaign(Split::Sample), &options()).unwrap();
    let env = &manifests.shards["spec"]["template"]["spec"]["containers"][0]["env"];
    let keys: Vec<&Value> = env
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["name"].as_str().unwrap().ends_with("_API_KEY"))
        .collect();
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert!(key.get("value").is_none(), "{key}");
        assert_eq!(key["valueFrom"]["secretKeyRef"]["name"], "vigie-keys");
    }
    // A manifest edited to hold a key in clear is refused.
    let mut leaked = manifests.shards.clone();
    leaked["spec"]["template"]["spec"]["containers"][0]["env"][1] =
        json!({"name": "OPENAI_API_KEY", "value": "sk-live"});
    let problems = check_job(&leaked).unwrap_err();
    assert!(
        problems[0].contains("must come from a Secret"),
        "{problems:?}"
    );
}

#[test]
fn every_field_rule_of_the_job_api_is_checked_and_named() {
    let good = kube_manifests(Path::new("/c/camp"), &campaign(Split::Sample), &options())
        .unwrap()
        .shards;
    assert_eq!(check_job(&good), Ok(()));
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut job = good.clone();
        edit(&mut job);
        check_job(&job).unwrap_err().join("\n")
    };
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "spec.completions: is required",
            Box::new(|j| {
                j["spec"].as_object_mut().unwrap().remove("completions");
            }),
        ),
        (
            "between 1 and 100000",
            Box::new(|j| j["spec"]["completions"] = json!(100_001)),
        ),
        (
            "requires the pods' restartPolicy to be Never",
            Box::new(|j| j["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure")),
        ),
        (
            "must be Never or OnFailure",
            Box::new(|j| j["spec"]["template"]["spec"]["restartPolicy"] = json!("Always")),
        ),
        (
            "backoffLimitPerIndex: can only be set when completionMode is Indexed",
            Box::new(|j| j["spec"]["completionMode"] = json!("NonIndexed")),
        ),
        (
            "maxFailedIndexes: must be between 0 and completions",
            Box::new(|j| j["spec"]["maxFailedIndexes"] = json!(17)),
        ),
        (
            "metadata.name: must be a lower-case DNS label",
            Box::new(|j| j["metadata"]["name"] = json!("Vigie_Camp")),
        ),
        (
            "metadata.name: must be a lower-case DNS label",
            Box::new(|j| j["metadata"]["name"] = json!("x".repeat(64))),
        ),
        (
            "volumeMounts[0].name: names no volume",
            Box::new(|j| j["spec"]["template"]["spec"]["volumes"][0]["name"] = json!("other")),
        ),
        (
            "secretKeyRef.key: is not a valid Secret key",
            Box::new(|j| {
                j["spec"]["template"]["spec"]["containers"][0]["env"][1]["valueFrom"]
                    ["secretKeyRef"]["key"] = json!("a key")
            }),
        ),
        (
            "env[1].name: is not a valid variable name",
            Box::new(|j| {
                j["spec"]["template"]["spec"]["containers"][0]["env"][1]["name"] = json!("1KEY")
            }),
        ),
        (
            "image: is required",
            Box::new(|j| j["spec"]["template"]["spec"]["containers"][0]["image"] = json!("")),
        ),
    ];
    for (expected, edit) in cases {
        let problems = broken(&*edit);
        assert!(
            problems.contains(expected),
            "expected {expected:?} in {problems}"
        );
    }
    // Options that make a bad manifest are refused before anything is written.
    let err = kube_manifests(
        Path::new("/c/camp"),
        &campaign(Split::Sample),
        &KubeOptions {
            claim: "Not A Claim".into(),
            ..options()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("claimName: must be a DNS subdomain"), "{err}");
}

#[test]
fn yaml_scalars_that_would_read_as_something_else_are_quoted() {
    let value = json!({"a": "true", "b": "1", "c": "plain/word:1", "d": "two words", "e": 3, "f": [], "g": ["x", {"h": "y", "i": "z"}]});
    assert_eq!(
        to_yaml(&value, "c"),
        "# c\na: \"true\"\nb: \"1\"\nc: plain/word:1\nd: \"two words\"\ne: 3\nf: []\ng:\n- x\n- h: \"y\"\n  i: z\n"
    );
}
