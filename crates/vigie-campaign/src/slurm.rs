//! The Slurm job scripts of a campaign: an `sbatch` array with one task per
//! shard (a `%` throttle, requeued when a node fails, each shard's output in
//! its own file), and, for a split by sample, a merge job the submitter
//! chains after the array with `--dependency=afterok`. Scripts only: a
//! cluster is driven through its own `sbatch`, never a client library.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::definition::{Campaign, Split};

/// How the array is asked of Slurm.
#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    /// Shards (array tasks).
    pub shards: u32,
    /// Array tasks running at once (`%K`); all of them when not given.
    pub throttle: Option<u32>,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--account`.
    pub account: Option<String>,
    /// `--time` of each shard (`HH:MM:SS`, `D-HH:MM:SS`).
    pub time: Option<String>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// `--mem` of each shard (`8G`).
    pub mem: Option<String>,
    /// More `#SBATCH` options, as `--name=value`.
    pub extra: Vec<String>,
    /// The vigie binary the nodes run (an absolute path on the shared file system).
    pub vigie: PathBuf,
}

/// Why the scripts cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// An option that cannot work.
    #[error("{0}")]
    Invalid(String),
}

/// The scripts of a campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct SlurmScripts {
    /// The array job: `slurm/campaign.sbatch`.
    pub array: String,
    /// The merge job, for a split by sample: `slurm/merge.sbatch`.
    pub merge: Option<String>,
}

/// A word for a shell script, quoted when it needs to be.
pub fn shell_word(word: &str) -> String {
    if !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c))
    {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The job name of the campaign in `dir`: `vigie-FOLDER`.
pub fn job_name(dir: &Path) -> String {
    let folder = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "campaign".into());
    format!("vigie-{}", crate::definition::slug(&folder))
}

fn sbatch_value(name: &str, value: &str) -> Result<String, JobError> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c == '#') {
        return Err(JobError::Invalid(format!(
            "--{name} `{value}`: a Slurm option value cannot be empty or hold spaces or #"
        )));
    }
    Ok(format!("#SBATCH --{name}={value}\n"))
}

/// The scripts for the campaign in `dir` (an absolute path every node sees).
pub fn slurm_scripts(
    dir: &Path,
    campaign: &Campaign,
    options: &SlurmOptions,
) -> Result<SlurmScripts, JobError> {
    if options.shards == 0 {
        return Err(JobError::Invalid("--shards must be at least 1".into()));
    }
    if options.throttle == Some(0) {
        return Err(JobError::Invalid("--throttle must be at least 1".into()));
    }
    if !dir.is_absolute() || !options.vigie.is_absolute() {
        return Err(JobError::Invalid(
            "the campaign folder and the vigie binary must be absolute paths: every node runs the script from its own folder".into(),
        ));
    }
    let out = dir.join("slurm").join("out");
    let name = job_name(dir);
    let vigie = shell_word(&options.vigie.display().to_string());
    let folder = shell_word(&dir.display().to_string());
    let mut head = String::new();
    let mut line = |name: &str, value: &str| -> Result<(), JobError> {
        head.push_str(&sbatch_value(name, value)?);
        Ok(())
    };
    if let Some(p) = &options.partition {
        line("partition", p)?;
    }
    if let Some(a) = &options.account {
        line("account", a)?;
    }
    if let Some(t) = &options.time {
        line("time", t)?;
    }
    if let Some(c) = options.cpus_per_task {
        line("cpus-per-task", &c.to_string())?;
    }
    if let Some(m) = &options.mem {
        line("mem", m)?;
    }
    for extra in &options.extra {
        let (key, value) = extra
            .trim_start_matches("--")
            .split_once('=')
            .ok_or_else(|| {
                JobError::Invalid(format!("--sbatch `{extra}`: write it --name=value"))
            })?;
        line(key, value)?;
    }

    let throttle = options
        .throttle
        .map(|k| format!("%{k}"))
        .unwrap_or_default();
    let mut array = String::new();
    let _ = write!(
        array,
        "#!/bin/bash\n\
         # The shards of the vigie campaign in {dir}, written by `vigie campaign slurm`.\n\
         # Each array task runs one shard (its index is SLURM_ARRAY_TASK_ID) into the\n\
         # shared campaign folder; a shard requeued after a node failure resumes its\n\
         # own logs. API keys come from the submitting environment, never this file.\n\
         #SBATCH --job-name={name}\n\
         #SBATCH --array=0-{last}{throttle}\n\
         #SBATCH --requeue\n\
         #SBATCH --open-mode=append\n\
         #SBATCH --output={out}/shard-%a.out\n\
         #SBATCH --error={out}/shard-%a.err\n\
         {head}\
         set -euo pipefail\n\
         exec {vigie} campaign run {folder} --shards {shards} --no-progress\n",
        dir = dir.display(),
        last = options.shards - 1,
        out = out.display(),
        shards = options.shards,
    );
    let merge = (campaign.split == Split::Sample).then(|| {
        format!(
            "#!/bin/bash\n\
             # Merges the shards of the vigie campaign in {dir} once every array task has\n\
             # succeeded (`vigie campaign slurm --submit` chains it with --dependency=afterok).\n\
             #SBATCH --job-name={name}-merge\n\
             #SBATCH --output={out}/merge.out\n\
             #SBATCH --error={out}/merge.err\n\
             {head}\
             set -euo pipefail\n\
             exec {vigie} campaign merge {folder}\n",
            dir = dir.display(),
            out = out.display(),
        )
    });
    Ok(SlurmScripts { array, merge })
}

/// The job id `sbatch --parsable` printed (`123`, or `123;cluster`).
pub fn parsable_job_id(printed: &str) -> Option<String> {
    let id = printed.trim().split(';').next()?.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_digit())).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn campaign(split: Split) -> Campaign {
        crate::definition::example(split)
    }

    #[test]
    fn the_array_script_runs_one_shard_per_task_and_the_merge_after() {
        let options = SlurmOptions {
            shards: 8,
            throttle: Some(4),
            partition: Some("gpu".into()),
            time: Some("02:00:00".into()),
            mem: Some("8G".into()),
            extra: vec!["--qos=short".into()],
            vigie: "/opt/vigie/bin/vigie".into(),
            ..SlurmOptions::default()
        };
        let dir = Path::new("/scratch/aisi/camp 1");
        let scripts = slurm_scripts(dir, &campaign(Split::Sample), &options).unwrap();
        let expected = "#!/bin/bash
# The shards of the vigie campaign in /scratch/aisi/camp 1, written by `vigie campaign slurm`.
# Each array task runs one shard (its index is SLURM_ARRAY_TASK_ID) into the
# shared campaign folder; a shard requeued after a node failure resumes its
# own logs. API keys come from the submitting environment, never this file.
#SBATCH --job-name=vigie-camp_1
#SBATCH --array=0-7%4
#SBATCH --requeue
#SBATCH --open-mode=append
#SBATCH --output=/scratch/aisi/camp 1/slurm/out/shard-%a.out
#SBATCH --error=/scratch/aisi/camp 1/slurm/out/shard-%a.err
#SBATCH --partition=gpu
#SBATCH --time=02:00:00
#SBATCH --mem=8G
#SBATCH --qos=short
set -euo pipefail
exec /opt/vigie/bin/vigie campaign run '/scratch/aisi/camp 1' --shards 8 --no-progress
";
        assert_eq!(scripts.array, expected);
        let merge = scripts.merge.unwrap();
        assert!(
            merge.contains("#SBATCH --job-name=vigie-camp_1-merge\n"),
            "{merge}"
        );
        assert!(
            merge.ends_with("exec /opt/vigie/bin/vigie campaign merge '/scratch/aisi/camp 1'\n"),
            "{merge}"
        );
        // Runs dealt out whole have nothing to merge.
        let by_task = slurm_scripts(dir, &campaign(Split::Task), &options).unwrap();
        assert!(by_task.merge.is_none());
        assert!(
            !by_task.array.contains("%4\n#SBATCH --array")
                && by_task.array.contains("--array=0-7%4")
        );
    }

    #[test]
    fn options_that_cannot_work_are_refused() {
        let base = SlurmOptions {
            shards: 2,
            vigie: "/usr/bin/vigie".into(),
            ..SlurmOptions::default()
        };
        let dir = Path::new("/c");
        let err = |o: &SlurmOptions, d: &Path| {
            slurm_scripts(d, &campaign(Split::Sample), o)
                .unwrap_err()
                .to_string()
        };
        assert!(err(
            &SlurmOptions {
                shards: 0,
                ..base.clone()
            },
            dir
        )
        .contains("--shards"));
        assert!(err(
            &SlurmOptions {
                throttle: Some(0),
                ..base.clone()
            },
            dir
        )
        .contains("--throttle"));
        assert!(err(
            &SlurmOptions {
                partition: Some("a b".into()),
                ..base.clone()
            },
            dir
        )
        .contains("--partition `a b`"));
        assert!(err(
            &SlurmOptions {
                extra: vec!["--qos".into()],
                ..base.clone()
            },
            dir
        )
        .contains("--name=value"));
        assert!(err(&base, Path::new("relative")).contains("absolute"));
        assert_eq!(parsable_job_id("4242;cluster\n").as_deref(), Some("4242"));
        assert_eq!(parsable_job_id("Submitted batch job 1"), None);
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}
