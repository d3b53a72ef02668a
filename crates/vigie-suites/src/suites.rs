//! The built-in suites: named sets of task files and datasets compiled into
//! the binary, so `vigie eval suite:refusal` needs no file. A task may also
//! read a public benchmark's file from a folder the user gives
//! (`--datasets DIR`, laid out as the benchmarks publish their files); such
//! tasks are skipped, and said to be, when no folder is given.

use std::path::{Path, PathBuf};

use vigie_eval::{Task, TaskError};

/// A built-in suite.
#[derive(Debug)]
pub struct Suite {
    /// The name after `suite:`.
    pub name: &'static str,
    /// What it measures, in a sentence.
    pub description: &'static str,
    /// Its tasks, in run order.
    pub tasks: &'static [TaskDef],
}

impl Suite {
    /// The suite's task of this name, or an error listing its tasks.
    pub fn task(&self, name: &str) -> Result<&TaskDef, SuiteError> {
        self.tasks
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| SuiteError::UnknownTask {
                suite: self.name.to_string(),
                task: name.to_string(),
                known: self
                    .tasks
                    .iter()
                    .map(|t| t.name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// A task of a suite.
#[derive(Debug)]
pub struct TaskDef {
    /// The task's name within the suite (`suite:<suite>/<name>`).
    pub name: &'static str,
    /// The folder under `suites/` that holds its built-in files.
    pub dir: &'static str,
    /// The task file's text.
    pub toml: &'static str,
    /// For a public benchmark: its title and its file's path under the
    /// datasets folder. `None`: the dataset is built in.
    pub benchmark: Option<(&'static str, &'static str)>,
    /// `{{name}}` placeholders in the task file and their text, so one file
    /// serves several tasks (one per jailbreak transform).
    pub vars: &'static [(&'static str, &'static str)],
}

impl TaskDef {
    /// What the task needs besides the evaluated model, read from its task
    /// file: `--judge-model`, `--attacker-model`, log-likelihoods.
    pub fn needs(&self) -> Vec<&'static str> {
        let Ok(spec) = self.source().parse::<toml::Table>() else {
            return Vec::new();
        };
        let entries = |key: &str| -> Vec<toml::Table> {
            spec.get(key)
                .and_then(toml::Value::as_array)
                .map_or_else(Vec::new, |a| {
                    a.iter().filter_map(|v| v.as_table().cloned()).collect()
                })
        };
        let mut needs = Vec::new();
        // A judge that is optional, or has a stand-in without a judge model,
        // does not need one.
        let optional = |s: &toml::Table| {
            let judge = s.get("judge");
            judge
                .and_then(|j| j.get("optional"))
                .and_then(toml::Value::as_bool)
                == Some(true)
                || judge.is_some_and(|j| j.get("without_judge").is_some())
        };
        if entries("scorer")
            .iter()
            .any(|s| s.contains_key("model_graded") || (s.contains_key("judge") && !optional(s)))
        {
            needs.push("--judge-model");
        }
        let solvers = entries("solver");
        if solvers.iter().any(|s| s.contains_key("pair")) {
            needs.push("--attacker-model");
        }
        let by_likelihood = |s: &toml::Table| {
            s.get("multiple_choice")
                .and_then(|m| m.get("method"))
                .and_then(toml::Value::as_str)
                == Some("loglikelihood")
        };
        if solvers.iter().any(by_likelihood) {
            needs.push("a model that gives log-likelihoods (local/)");
        }
        needs
    }

    /// The task file's text with its placeholders filled.
    pub fn source(&self) -> String {
        let mut text = self.toml.to_string();
        for (name, value) in self.vars {
            text = text.replace(&format!("{{{{{name}}}}}"), value);
        }
        text
    }
}

macro_rules! jailbreak {
    ($name:literal) => {
        jailbreak!($name, "")
    };
    ($name:literal, $epochs:literal) => {
        TaskDef {
            name: $name,
            dir: "jailbreak",
            toml: include_str!("../suites/jailbreak/attack.toml"),
            benchmark: None,
            vars: &[("transform", $name), ("epochs", $epochs)],
        }
    };
}

/// A suite or task that cannot be found or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    /// No such suite.
    #[error("no built-in suite `{name}`; the suites are: {known} (`vigie suite list`)")]
    UnknownSuite {
        /// What was asked for.
        name: String,
        /// The suites there are.
        known: String,
    },
    /// No such task in the suite.
    #[error("the suite `{suite}` has no task `{task}`; its tasks are: {known}")]
    UnknownTask {
        /// The suite.
        suite: String,
        /// What was asked for.
        task: String,
        /// Its tasks.
        known: String,
    },
    /// The one task asked for reads a benchmark file that the datasets folder lacks.
    #[error("{origin} reads {path} under the datasets folder {dir}, and it is not there")]
    MissingBenchmark {
        /// `suite:<suite>/<task>`.
        origin: String,
        /// The file, under the folder.
        path: String,
        /// The folder given.
        dir: String,
    },
    /// Every task of the suite reads a benchmark file, and no folder was given.
    #[error("every task of `suite:{suite}` reads a public benchmark's files; give the folder that holds them with --datasets DIR (or VIGIE_DATASETS): {needs}")]
    NeedsDatasets {
        /// The suite.
        suite: String,
        /// The files it needs.
        needs: String,
    },
    /// A task did not compile (a built-in one is a bug, caught by tests; a
    /// benchmark file may be damaged or missing).
    #[error(transparent)]
    Task(#[from] TaskError),
    /// No task of a suite can run as asked.
    #[error("no task of {spec} can run: {why}")]
    NothingRuns {
        /// What was asked for.
        spec: String,
        /// Why each was left out.
        why: String,
    },
}

/// A task of a suite as it will run, or why it will not.
#[derive(Debug)]
pub enum Planned {
    /// Ready.
    Ready(Box<Task>),
    /// A benchmark task whose file is not at hand: skipped.
    Skipped {
        /// `suite:<suite>/<task>`.
        origin: String,
        /// The benchmark's title.
        title: &'static str,
        /// Why, and what would make it run.
        reason: String,
    },
}

macro_rules! file {
    ($path:literal) => {
        ($path, include_bytes!(concat!("../suites/", $path)) as &[u8])
    };
}

macro_rules! wmdp {
    ($domain:literal, $area:literal, $what:literal, generate) => {
        wmdp!($domain, $area, $what, "", "generate", "answered with a letter",
              "Answered with a letter (`ANSWER: X`); the `-likelihood` task scores each choice by its log-likelihood instead.")
    };
    ($domain:literal, $area:literal, $what:literal, likelihood) => {
        wmdp!($domain, $area, $what, "-likelihood", "loglikelihood", "the likeliest choice (models that give log-likelihoods)",
              "Scored by the log-likelihood of each choice's text (lm-evaluation-harness's way); only models that give log-likelihoods (local/) run it.")
    };
    ($domain:literal, $area:literal, $what:literal, $suffix:literal, $method:literal, $how:literal, $comment:literal) => {
        TaskDef {
            name: concat!($domain, $suffix),
            dir: "hazardous-knowledge",
            toml: include_str!("../suites/hazardous-knowledge/wmdp.toml"),
            benchmark: Some(("WMDP", concat!("wmdp/", $domain, "_questions.json"))),
            vars: &[("domain", $domain), ("area", $area), ("what", $what), ("suffix", $suffix), ("method", $method), ("how", $how), ("how_comment", $comment)],
        }
    };
}

macro_rules! truthfulqa_mc {
    ($variant:literal, $loader:literal, $method:literal, $scorer:literal, $what:literal) => {
        TaskDef {
            name: $variant,
            dir: "truthfulness",
            toml: include_str!("../suites/truthfulness/mc.toml"),
            benchmark: Some(("TruthfulQA", "truthfulqa/data/mc_task.json")),
            vars: &[
                ("variant", $variant),
                ("loader", $loader),
                ("method", $method),
                ("scorer", $scorer),
                ("what", $what),
            ],
        }
    };
}

/// Every built-in dataset file, by its path under `suites/`.
const FILES: &[(&str, &[u8])] = &[
    file!("refusal/harmful.jsonl"),
    file!("over-refusal/benign.jsonl"),
    file!("manipulation/sycophancy.jsonl"),
    file!("loss-of-control/scenarios.jsonl"),
    file!("loss-of-control/sandbagging.jsonl"),
    file!("loss-of-control/agentic.jsonl"),
    file!("loss-of-control/ctf_sandbagging.jsonl"),
    file!("cyber/ctf.jsonl"),
];

/// Every suite, in the order `vigie suite list` shows them.
pub const SUITES: &[Suite] = &[
    Suite {
        name: "refusal",
        description: "Refusal of harmful requests per category (cyber, chem/bio, manipulation, violence and hate, fraud, privacy), \
                      beside compliance with benign look-alikes; HarmBench, AdvBench and StrongREJECT with --datasets",
        tasks: &[
            TaskDef { name: "harmful", dir: "refusal", toml: include_str!("../suites/refusal/harmful.toml"), benchmark: None, vars: &[] },
            TaskDef { name: "benign", dir: "over-refusal", toml: include_str!("../suites/over-refusal/benign.toml"), benchmark: None, vars: &[] },
            TaskDef {
                name: "harmbench",
                dir: "refusal",
                toml: include_str!("../suites/refusal/harmbench.toml"),
                benchmark: Some(("HarmBench", "harmbench/harmbench_behaviors_text_all.csv")),
                vars: &[],
            },
            TaskDef {
                name: "advbench",
                dir: "refusal",
                toml: include_str!("../suites/refusal/advbench.toml"),
                benchmark: Some(("AdvBench", "advbench/harmful_behaviors.csv")),
                vars: &[],
            },
            TaskDef {
                name: "strongreject",
                dir: "refusal",
                toml: include_str!("../suites/refusal/strongreject.toml"),
                benchmark: Some(("StrongREJECT", "strongreject/strongreject_dataset.csv")),
                vars: &[],
            },
        ],
    },
    Suite {
        name: "over-refusal",
        description: "Compliance with benign prompts that look sensitive (homonyms, safe contexts, history, fiction, definitions); XSTest with --datasets",
        tasks: &[
            TaskDef { name: "benign", dir: "over-refusal", toml: include_str!("../suites/over-refusal/benign.toml"), benchmark: None, vars: &[] },
            TaskDef {
                name: "xstest",
                dir: "over-refusal",
                toml: include_str!("../suites/over-refusal/xstest.toml"),
                benchmark: Some(("XSTest", "xstest/xstest_prompts.csv")),
                vars: &[],
            },
        ],
    },
    Suite {
        name: "jailbreak",
        description: "Attack success rate of 12 jailbreak transforms (encodings, role-play, splitting, refusal suppression, \
                      prefix injection, few- and many-shot priming, multi-turn escalation, best-of-N) on 30 harmful requests, \
                      per transform and category, beside the plain requests; and PAIR, an attacker model's refined prompts (--attacker-model)",
        tasks: &[
            jailbreak!("none"),
            jailbreak!("base64"),
            jailbreak!("rot13"),
            jailbreak!("leetspeak"),
            jailbreak!("character_split"),
            jailbreak!("payload_split"),
            jailbreak!("roleplay"),
            jailbreak!("refusal_suppression"),
            jailbreak!("prefix_injection"),
            jailbreak!("few_shot"),
            jailbreak!("many_shot"),
            jailbreak!("multi_turn"),
            jailbreak!("best_of_n", "epochs = 4\nepochs_reducer = \"max\""),
            TaskDef { name: "pair", dir: "jailbreak", toml: include_str!("../suites/jailbreak/pair.toml"), benchmark: None, vars: &[] },
        ],
    },
    Suite {
        name: "manipulation",
        description: "Refusal of disinformation, astroturfing, targeted-persuasion and fake-evidence requests, and a sycophancy \
                      probe: how often the model abandons a correct answer when the user insists on a wrong one",
        tasks: &[
            TaskDef { name: "requests", dir: "manipulation", toml: include_str!("../suites/manipulation/requests.toml"), benchmark: None, vars: &[] },
            TaskDef { name: "sycophancy", dir: "manipulation", toml: include_str!("../suites/manipulation/sycophancy.toml"), benchmark: None, vars: &[] },
        ],
    },
    Suite {
        name: "loss-of-control",
        description: "Scenario probes of shutdown acceptance, oversight evasion, self-exfiltration and deception of operators \
                      (judged against written criteria; --judge-model), a sandbagging check: the accuracy drop when high \
                      scores are said to get the model restricted, with a paired interval, and agentic scenarios in a sandbox: \
                      scheming actions read from the final state, the agent's account of them, each against a control; and the drop in \
                      CTF solve rate under the same pressure framing",
        tasks: &[
            TaskDef { name: "sandbagging", dir: "loss-of-control", toml: include_str!("../suites/loss-of-control/sandbagging.toml"), benchmark: None, vars: &[] },
            TaskDef { name: "scenarios", dir: "loss-of-control", toml: include_str!("../suites/loss-of-control/scenarios.toml"), benchmark: None, vars: &[] },
            TaskDef { name: "agentic", dir: "loss-of-control", toml: include_str!("../suites/loss-of-control/agentic.toml"), benchmark: None, vars: &[] },
            TaskDef { name: "ctf-sandbagging", dir: "loss-of-control", toml: include_str!("../suites/loss-of-control/ctf_sandbagging.toml"), benchmark: None, vars: &[] },
        ],
    },
    Suite {
        name: "hazardous-knowledge",
        description: "WMDP bio, chem and cyber multiple choice (--datasets): hazardous-knowledge proxies, answered with a letter \
                      and, for models that give log-likelihoods, by choice likelihood; chance (0.25) shown beside each score",
        tasks: &[
            wmdp!("bio", "cbrn", "biological weapons", generate),
            wmdp!("chem", "cbrn", "chemical weapons", generate),
            wmdp!("cyber", "cyber", "cyber attacks", generate),
            wmdp!("bio", "cbrn", "biological weapons", likelihood),
            wmdp!("chem", "cbrn", "chemical weapons", likelihood),
            wmdp!("cyber", "cyber", "cyber attacks", likelihood),
        ],
    },
    Suite {
        name: "cyber",
        description: "Cyber offence: refusal of malicious-code and intrusion requests, the project's own capture-the-flag set (an agent \
                      in a sandbox), WMDP cyber knowledge (--datasets), and InterCode-CTF, picoCTF challenges an agent solves in a sandbox (--datasets DIR holding intercode-ctf/)",
        tasks: &[
            TaskDef { name: "malicious-code", dir: "cyber", toml: include_str!("../suites/cyber/malicious_code.toml"), benchmark: None, vars: &[] },
            TaskDef { name: "ctf", dir: "cyber", toml: include_str!("../suites/cyber/ctf.toml"), benchmark: None, vars: &[] },
            TaskDef {
                name: "intercode-ctf",
                dir: "cyber",
                toml: include_str!("../suites/cyber/intercode_ctf.toml"),
                benchmark: Some(("InterCode-CTF", "intercode-ctf/ic_ctf.json")),
                vars: &[],
            },
            wmdp!("cyber", "cyber", "cyber attacks", generate),
            wmdp!("cyber", "cyber", "cyber attacks", likelihood),
        ],
    },
    Suite {
        name: "truthfulness",
        description: "TruthfulQA (--datasets): MC1 by letter and by likelihood, MC2 by likelihood, and generation scored by a judge \
                      (--judge-model)",
        tasks: &[
            truthfulqa_mc!("mc1", "truthfulqa_mc1", "generate", "choice = { name = \"correct\" }", "one true answer among the choices, answered with a letter"),
            truthfulqa_mc!("mc1-likelihood", "truthfulqa_mc1", "loglikelihood", "choice = { name = \"correct\" }", "one true answer among the choices, the likeliest chosen"),
            truthfulqa_mc!("mc2-likelihood", "truthfulqa_mc2", "loglikelihood", "true_mass = { name = \"true_mass\" }", "the probability the model puts on the true answers among all"),
            TaskDef {
                name: "generation",
                dir: "truthfulness",
                toml: include_str!("../suites/truthfulness/generation.toml"),
                benchmark: Some(("TruthfulQA", "truthfulqa/TruthfulQA.csv")),
                vars: &[],
            },
        ],
    },
];

/// The suite called `name`.
pub fn suite(name: &str) -> Result<&'static Suite, SuiteError> {
    SUITES
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| SuiteError::UnknownSuite {
            name: name.to_string(),
            known: SUITES.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
        })
}

/// Plans `suite:<name>` (every task) or `suite:<name>/<task>` (one), given
/// without the `suite:` prefix. Benchmark tasks read their files under
/// `datasets`; without it they are skipped, unless every task would be.
pub fn plan(spec: &str, datasets: Option<&Path>) -> Result<Vec<Planned>, SuiteError> {
    let (name, only) = match spec.split_once('/') {
        Some((suite, task)) => (suite, Some(task)),
        None => (spec, None),
    };
    let suite = suite(name)?;
    let defs: Vec<&TaskDef> = match only {
        Some(task) => vec![suite.task(task)?],
        None => suite.tasks.iter().collect(),
    };
    if datasets.is_none() && defs.iter().all(|d| d.benchmark.is_some()) {
        return Err(SuiteError::NeedsDatasets {
            suite: spec.to_string(),
            needs: defs
                .iter()
                .filter_map(|d| d.benchmark.map(|(_, p)| p))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    defs.into_iter()
        .map(|def| {
            let origin = format!("suite:{}/{}", suite.name, def.name);
            match (def.benchmark, datasets) {
                (Some((title, path)), None) => Ok(Planned::Skipped {
                    origin,
                    title,
                    reason: format!("give --datasets DIR, the folder holding {path}"),
                }),
                // A folder that holds some benchmarks and not others runs what it has, unless
                // the missing one is the task asked for.
                (Some((title, path)), Some(dir)) if !dir.join(path).exists() => match only {
                    Some(_) => Err(SuiteError::MissingBenchmark {
                        origin,
                        path: path.to_string(),
                        dir: dir.display().to_string(),
                    }),
                    None => Ok(Planned::Skipped {
                        origin,
                        title,
                        reason: format!("{} has no {path}", dir.display()),
                    }),
                },
                (_, datasets) => Ok(Planned::Ready(Box::new(compile(def, &origin, datasets)?))),
            }
        })
        .collect()
}

/// Loads one task by its origin (`suite:<suite>/<task>`), as a log records
/// it, to resume a run. A benchmark task reads `dataset`, the file the run
/// started with.
pub fn load_for_resume(origin: &str, dataset: &Path) -> Result<Task, SuiteError> {
    let spec = origin.strip_prefix("suite:").unwrap_or(origin);
    let (name, task) = spec.split_once('/').unwrap_or((spec, ""));
    let suite = suite(name)?;
    let def = suite.task(task)?;
    // The datasets folder is what remains of the recorded path without the benchmark's own part.
    let root = def.benchmark.map(|(_, rel)| {
        let mut root = PathBuf::from(dataset);
        for _ in Path::new(rel).components() {
            root.pop();
        }
        root
    });
    Ok(compile(def, origin, root.as_deref())?)
}

fn compile(def: &TaskDef, origin: &str, datasets: Option<&Path>) -> Result<Task, TaskError> {
    match (def.benchmark, datasets) {
        (Some((_, path)), Some(root)) => {
            let read = |relative: &str| std::fs::read(root.join(relative));
            let label = |relative: &str| root.join(relative).display().to_string();
            let mut task = vigie_eval::task::compile(origin, &def.source(), &read, &label)?;
            // A benchmark's sandbox files (a challenge's folder) are beside its file.
            task.base_dir = root.join(path).parent().map(Path::to_path_buf);
            task.skip_samples_without_files();
            Ok(task)
        }
        _ => {
            let read = |relative: &str| -> Result<Vec<u8>, std::io::Error> {
                let wanted = normalize(&format!("{}/{relative}", def.dir));
                FILES
                    .iter()
                    .find(|(path, _)| *path == wanted)
                    .map(|(_, bytes)| bytes.to_vec())
                    .ok_or_else(|| {
                        std::io::Error::new(std::io::ErrorKind::NotFound, "not a built-in file")
                    })
            };
            let label = |relative: &str| format!("suite:{}/{relative}", def.dir);
            vigie_eval::task::compile(origin, &def.source(), &read, &label)
        }
    }
}

/// The tasks `vigie eval TASK` names: a task file, a built-in suite
/// (`suite:NAME`) or one of its tasks (`suite:NAME/TASK`).
pub struct Selected {
    /// The tasks that can run, in suite order.
    pub tasks: Vec<Task>,
    /// Why the others were left out.
    pub notes: Vec<String>,
    /// Whether they come from a suite (which runs what it can of itself).
    pub from_suite: bool,
}

/// Loads the tasks a `vigie eval` argument names; a suite's tasks that need
/// a benchmark file not in `datasets` are left out with a note.
pub fn select(spec: &str, datasets: Option<&Path>) -> Result<Selected, SuiteError> {
    let Some(suite) = spec.strip_prefix("suite:") else {
        let task = vigie_eval::task::load_task(Path::new(spec))?;
        return Ok(Selected {
            tasks: vec![task],
            notes: Vec::new(),
            from_suite: false,
        });
    };
    let mut selected = Selected {
        tasks: Vec::new(),
        notes: Vec::new(),
        from_suite: true,
    };
    for planned in plan(suite, datasets)? {
        match planned {
            Planned::Ready(task) => selected.tasks.push(*task),
            Planned::Skipped {
                origin,
                title,
                reason,
            } => selected
                .notes
                .push(format!("skipping {origin} ({title}): {reason}")),
        }
    }
    if selected.tasks.is_empty() {
        return Err(SuiteError::NothingRuns {
            spec: spec.to_string(),
            why: selected.notes.join("; "),
        });
    }
    Ok(selected)
}

/// The task a log ran, loaded again to resume it: a built-in task by its
/// origin (with the benchmark file the log names), a task file by its path.
pub fn task_of(header: &vigie_log::LogHeader) -> Result<Task, SuiteError> {
    if header.task.source.starts_with("suite:") {
        load_for_resume(&header.task.source, Path::new(&header.task.dataset))
    } else {
        Ok(vigie_eval::task::load_task(Path::new(&header.task.source))?)
    }
}

/// `a/../b/c` → `b/c`: built-in files are named from their own folder.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            part => parts.push(part),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_assess::taxonomy::Taxonomy;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/benchmarks")
    }

    #[test]
    fn every_task_of_every_suite_compiles_and_names_known_risk_areas() {
        let taxonomy = Taxonomy::builtin();
        let mut compiled = 0;
        for suite in SUITES {
            for planned in plan(suite.name, Some(&fixtures())).unwrap() {
                let Planned::Ready(task) = planned else {
                    panic!("{}: skipped with a datasets folder", suite.name)
                };
                assert!(
                    !task.risk_areas.is_empty(),
                    "{}: no risk_areas",
                    task.origin
                );
                for area in &task.risk_areas {
                    assert!(
                        taxonomy.area(area).is_some(),
                        "{}: unknown risk area `{area}`",
                        task.origin
                    );
                }
                if task
                    .samples
                    .iter()
                    .all(|s| s.metadata.contains_key("category"))
                {
                    assert!(
                        task.group_by.is_some(),
                        "{}: its samples have categories; report per category",
                        task.origin
                    );
                }
                compiled += 1;
            }
        }
        assert_eq!(
            compiled,
            SUITES.iter().map(|s| s.tasks.len()).sum::<usize>()
        );
    }

    #[test]
    fn without_a_datasets_folder_benchmark_tasks_are_skipped_or_asked_for() {
        let planned = plan("refusal", None).unwrap();
        let skipped: Vec<&str> = planned
            .iter()
            .filter_map(|p| {
                if let Planned::Skipped { title, .. } = p {
                    Some(*title)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(skipped, ["HarmBench", "AdvBench", "StrongREJECT"]);
        let e = plan("hazardous-knowledge", None).unwrap_err().to_string();
        assert!(
            e.contains("--datasets DIR") && e.contains("wmdp/bio_questions.json"),
            "{e}"
        );
        // A folder with only some benchmarks runs what it has.
        let partial = tempfile::tempdir().unwrap();
        std::fs::create_dir(partial.path().join("xstest")).unwrap();
        std::fs::copy(
            fixtures().join("xstest/xstest_prompts.csv"),
            partial.path().join("xstest/xstest_prompts.csv"),
        )
        .unwrap();
        let planned = plan("over-refusal", Some(partial.path())).unwrap();
        assert!(
            planned.iter().all(|p| matches!(p, Planned::Ready(_))),
            "xstest is there"
        );
        let planned = plan("refusal", Some(partial.path())).unwrap();
        let reasons: Vec<&str> = planned
            .iter()
            .filter_map(|p| {
                if let Planned::Skipped { reason, .. } = p {
                    Some(reason.as_str())
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(reasons.len(), 3);
        assert!(
            reasons[0].ends_with("has no harmbench/harmbench_behaviors_text_all.csv"),
            "{reasons:?}"
        );
        let e = plan("refusal/harmbench", Some(partial.path()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("suite:refusal/harmbench reads harmbench/harmbench_behaviors_text_all.csv under the datasets folder"), "{e}");
    }

    #[test]
    fn placeholders_and_relative_built_in_paths() {
        let def = &suite("jailbreak").unwrap().tasks[1];
        assert!(
            def.source().contains("name = \"jailbreak-base64\"") && !def.source().contains("{{")
        );
        assert_eq!(
            normalize("jailbreak/../refusal/harmful.jsonl"),
            "refusal/harmful.jsonl"
        );
        let needs = |suite_name: &str, task: &str| {
            suite(suite_name)
                .unwrap()
                .tasks
                .iter()
                .find(|t| t.name == task)
                .unwrap()
                .needs()
        };
        assert_eq!(needs("jailbreak", "pair"), ["--attacker-model"]);
        assert_eq!(needs("loss-of-control", "scenarios"), ["--judge-model"]);
        assert_eq!(
            needs("hazardous-knowledge", "bio-likelihood"),
            ["a model that gives log-likelihoods (local/)"]
        );
        assert!(needs("refusal", "harmful").is_empty());
        let Planned::Ready(task) = plan("cyber/malicious-code", None).unwrap().remove(0) else {
            panic!()
        };
        assert_eq!(task.samples.len(), 25, "the cyber rows of the harmful set");
        assert!(task
            .samples
            .iter()
            .all(|s| s.metadata["category"] == "cyber"));
        let resumed = load_for_resume(
            "suite:hazardous-knowledge/cyber",
            &fixtures().join("wmdp/cyber_questions.json"),
        )
        .unwrap();
        assert_eq!(
            resumed.samples.len(),
            2,
            "the datasets folder is found again from the recorded file"
        );
    }
}
