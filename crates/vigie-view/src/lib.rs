//! `vigie view`: a web viewer for logs. It serves, read-only, the logs under
//! the paths it was given (`catalog`), and pages, sorts, filters and
//! searches a log's samples on the server (`index`), so that the browser
//! only ever receives one page of rows; every view is a URL (the filter
//! state is its query), so a link shows a colleague the same thing. Pages
//! are rendered on the server from templates built into the binary
//! (`pages`); the front end needs no build step and no Node.js.
//!
//! Safe by default: the caller binds it (the CLI to loopback unless told
//! otherwise, and then only with a token, which every request must carry);
//! a URL names a catalog entry, never a file; logs are opened for reading
//! only.

pub mod catalog;
pub mod index;
mod pages;
mod search;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::extract::{Query as UrlQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub use catalog::{Catalog, Entry};
pub use index::{Query, SampleIndex, Selection};

/// What stops the viewer from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// A path given to the viewer cannot be used.
    #[error("{path}: {message}")]
    Path {
        /// The path as given.
        path: String,
        /// Why.
        message: String,
    },
    /// The listener failed.
    #[error("the server stopped: {0}")]
    Serve(#[from] std::io::Error),
}

/// One log as the viewer holds it: its results and its samples' index,
/// for one version of the file (its length and modification time).
pub struct LoadedLog {
    /// The log's results: the footer, or those of the records so far.
    pub results: vigie_log::results::LogResults,
    /// How its seal checked (the signatures over its manifest, and the
    /// manifest against header and footer); `None` while unfinished.
    pub seal: Option<Result<vigie_seal::SealCheck, String>>,
    /// The samples.
    pub index: SampleIndex,
    version: Version,
}

/// What the handlers share.
pub struct Viewer {
    catalog: Catalog,
    token: Option<String>,
    framework: vigie_assess::Framework,
    loaded: Mutex<HashMap<PathBuf, Arc<LoadedLog>>>,
    summaries: Mutex<HashMap<PathBuf, Summary>>,
    /// Held while an index is built, so that a request and the warm-up do
    /// not build the same one twice.
    building: Mutex<()>,
}

/// A log's results for one version of its file.
type Summary = (Version, Arc<vigie_log::results::LogResults>);

/// A file's length and modification time: when either changes, it is read again.
type Version = (u64, Option<SystemTime>);

fn version(entry: &Entry) -> Result<Version, String> {
    let meta = std::fs::metadata(&entry.path).map_err(|e| e.to_string())?;
    Ok((meta.len(), meta.modified().ok()))
}

impl Viewer {
    /// A viewer of `catalog`'s logs, assessed under `framework`; with
    /// `token`, every request must carry it (`?token=`, then a cookie the
    /// first answer sets).
    pub fn new(
        catalog: Catalog,
        token: Option<String>,
        framework: vigie_assess::Framework,
    ) -> Viewer {
        Viewer {
            catalog,
            token,
            framework,
            loaded: Mutex::new(HashMap::new()),
            summaries: Mutex::new(HashMap::new()),
            building: Mutex::new(()),
        }
    }

    /// A log's results (header and footer, or the results of its records
    /// so far), without its samples' index: what the list of logs needs.
    pub fn summary(&self, entry: &Entry) -> Result<Arc<vigie_log::results::LogResults>, String> {
        let version = version(entry)?;
        if let Some((v, results)) = self
            .summaries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&entry.path)
        {
            if *v == version {
                return Ok(results.clone());
            }
        }
        let results = Arc::new(
            vigie_log::results::LogResults::read(&entry.path, None).map_err(|e| e.to_string())?,
        );
        self.summaries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(entry.path.clone(), (version, results.clone()));
        Ok(results)
    }

    /// Reads every log's index in the background, so that the first page a
    /// user asks for is ready; returns at once.
    pub fn warm(self: &Arc<Self>) {
        let viewer = self.clone();
        std::thread::spawn(move || {
            for entry in viewer.catalog.entries() {
                let _ = viewer.load(&entry);
            }
        });
    }

    /// The log's index if it is built for the file as it is now.
    fn cached(&self, entry: &Entry) -> Option<Arc<LoadedLog>> {
        let version = version(entry).ok()?;
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&entry.path)
            .filter(|l| l.version == version)
            .cloned()
    }

    /// The log `entry` as it is now on disk: read again when the file has
    /// changed (a run still being written), else the one read before.
    pub fn load(&self, entry: &Entry) -> Result<Arc<LoadedLog>, String> {
        let version = version(entry)?;
        let cached = || {
            self.loaded
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&entry.path)
                .filter(|l| l.version == version)
                .cloned()
        };
        if let Some(log) = cached() {
            return Ok(log);
        }
        let _building = self.building.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(log) = cached() {
            return Ok(log);
        }
        let mut reader = vigie_log::LogReader::open(&entry.path).map_err(|e| e.to_string())?;
        let header = reader.header().map_err(|e| e.to_string())?;
        let footer = reader.footer().map_err(|e| e.to_string())?;
        // One pass over the records: the index, and for a run without a
        // footer its results so far; no record is kept in memory.
        let mut tally = footer
            .is_none()
            .then(|| vigie_log::results::RunTally::new(&header));
        let mut failure = None;
        let index = SampleIndex::build(
            &header,
            reader
                .samples_with_offsets()
                .map_err(|e| e.to_string())?
                .map_while(|r| match r {
                    Ok((offset, record)) => {
                        if let Some(tally) = tally.as_mut() {
                            tally.add(&record);
                        }
                        Some((offset, record))
                    }
                    Err(e) => {
                        failure = Some(e.to_string());
                        None
                    }
                }),
        );
        if let Some(e) = failure {
            return Err(e);
        }
        let results = match (footer, tally) {
            (Some(footer), _) => vigie_log::results::LogResults {
                header: header.clone(),
                footer,
                finished: true,
            },
            (None, tally) => vigie_log::results::LogResults {
                footer: tally
                    .unwrap_or_else(|| vigie_log::results::RunTally::new(&header))
                    .footer(vigie_log::RunStatus::Started, None, String::new(), 0.0),
                header: header.clone(),
                finished: false,
            },
        };
        // The ends of the file only: the records were just read for the index.
        let seal = results
            .finished
            .then(|| vigie_seal::check_seal(&entry.path).map_err(|e| e.to_string()));
        let log = Arc::new(LoadedLog {
            index,
            results,
            seal,
            version,
        });
        self.loaded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(entry.path.clone(), log.clone());
        Ok(log)
    }

    fn entry(&self, params: &BTreeMap<String, String>) -> Result<Entry, Refused> {
        let id = params
            .get("log")
            .ok_or_else(|| missing("which log? (the `log` parameter is missing)"))?;
        self.catalog
            .find(id)
            .ok_or_else(|| missing(&format!("no log `{id}` under the viewer's paths")))
    }

    /// Whether the request carries the token, when there is one.
    fn allowed(&self, headers: &HeaderMap, params: &BTreeMap<String, String>) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let cookie = headers
            .get(header::COOKIE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split(';')
                    .find_map(|c| c.trim().strip_prefix("vigie_token="))
            });
        [params.get("token").map(String::as_str), bearer, cookie]
            .into_iter()
            .flatten()
            .any(|given| given == token)
    }
}

/// A request the viewer cannot answer, and why.
struct Refused(StatusCode, String);

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        (self.0, Html(pages::error_page(&self.1))).into_response()
    }
}

fn missing(message: &str) -> Refused {
    Refused(StatusCode::NOT_FOUND, message.to_string())
}

fn not_found(message: &str) -> Response {
    missing(message).into_response()
}

type Params = UrlQuery<BTreeMap<String, String>>;

/// The viewer's routes.
pub fn router(viewer: Arc<Viewer>) -> Router {
    Router::new()
        .route("/", get(logs))
        .route("/run", get(run))
        .route("/samples", get(samples))
        .route("/sample", get(sample))
        .route("/api/samples", get(api_samples))
        .route("/api/logs", get(api_logs))
        .route("/compare", get(compare))
        .route("/assess", get(assess))
        .with_state(viewer)
}

/// Serves `viewer` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    viewer: Arc<Viewer>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ViewError> {
    axum::serve(listener, router(viewer))
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

/// Answers with `page`, or refuses without the token; a token given in the
/// URL is kept in a cookie, so that the page's links need not carry it.
async fn answer(
    viewer: &Viewer,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
    page: impl FnOnce() -> Response + Send + 'static,
) -> Response {
    if !viewer.allowed(headers, params) {
        return (
            StatusCode::UNAUTHORIZED,
            Html(pages::error_page(
                "this viewer needs its token: open the address it printed (with ?token=…)",
            )),
        )
            .into_response();
    }
    // Reading a log is file work: off the runtime's threads.
    let mut response = match tokio::task::spawn_blocking(page).await {
        Ok(response) => response,
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Html(pages::error_page(&format!("internal error: {e}"))),
        )
            .into_response(),
    };
    if let (Some(token), Some(_)) = (&viewer.token, params.get("token")) {
        if let Ok(value) = format!("vigie_token={token}; HttpOnly; SameSite=Strict; Path=/").parse()
        {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
    }
    response
}

async fn logs(
    State(viewer): State<Arc<Viewer>>,
    headers: HeaderMap,
    UrlQuery(params): Params,
) -> Response {
    let v = viewer.clone();
    answer(&viewer, &headers, &params, move || {
        let entries = v.catalog.entries();
        let rows: Vec<_> = entries.iter().map(|e| (e.clone(), v.summary(e))).collect();
        Html(pages::logs_page(&v.catalog.roots(), &rows)).into_response()
    })
    .await
}

async fn api_logs(
    State(viewer): State<Arc<Viewer>>,
    headers: HeaderMap,
    UrlQuery(params): Params,
) -> Response {
    let v = viewer.clone();
    answer(&viewer, &headers, &params, move || {
        let rows: Vec<_> = v
            .catalog
            .entries()
            .iter()
            .map(|e| (e.clone(), v.summary(e)))
            .collect();
        axum::Json(pages::log_rows(&rows)).into_response()
    })
    .await
}

/// Tiers per risk area and model under the viewer's framework.
async fn assess(
    State(viewer): State<Arc<Viewer>>,
    headers: HeaderMap,
    UrlQuery(params): Params,
) -> Response {
    let v = viewer.clone();
    answer(&viewer, &headers, &params, move || {
        let mut shown = BTreeMap::new();
        let logs: Vec<vigie_assess::EvidenceLog> = v
            .catalog
            .entries()
            .into_iter()
            .filter_map(|e| {
                let log = v.summary(&e).ok()?;
                shown.insert(e.id.clone(), e.shown.clone());
                // The finding's `log` is the entry's id, so that it links.
                Some(vigie_assess::EvidenceLog {
                    path: e.path.clone(),
                    file_name: e.id.clone(),
                    header: log.header.clone(),
                    footer: log.finished.then(|| log.footer.clone()),
                })
            })
            .collect();
        let assessment = vigie_assess::assess(&v.framework, &logs);
        Html(pages::assess_page(&assessment, &shown)).into_response()
    })
    .await
}

/// Two or more runs of one task side by side: `/compare?log=A&log=B…`.
async fn compare(
    State(viewer): State<Arc<Viewer>>,
    headers: HeaderMap,
    UrlQuery(pairs): UrlQuery<Vec<(String, String)>>,
) -> Response {
    let params: BTreeMap<String, String> = pairs.iter().cloned().collect();
    let v = viewer.clone();
    answer(
        &viewer,
        &headers,
        &params.clone(),
        move || match comparison(&v, &pairs, &params) {
            Ok(page) => Html(page).into_response(),
            Err(refused) => refused.into_response(),
        },
    )
    .await
}

fn comparison(
    viewer: &Viewer,
    pairs: &[(String, String)],
    params: &BTreeMap<String, String>,
) -> Result<String, Refused> {
    let mut runs = Vec::new();
    for (_, id) in pairs.iter().filter(|(k, _)| k == "log") {
        let entry = viewer
            .catalog
            .find(id)
            .ok_or_else(|| missing(&format!("no log `{id}` under the viewer's paths")))?;
        let log = viewer
            .load(&entry)
            .map_err(|e| missing(&format!("{}: {e}", entry.shown)))?;
        runs.push((entry, log));
    }
    let bad = |m: String| Refused(StatusCode::BAD_REQUEST, m);
    if runs.len() < 2 {
        return Err(bad(
            "compare needs two or more runs: /compare?log=A&log=B".into()
        ));
    }
    let task = &runs[0].1.results.header.task.name;
    if let Some((other, _)) = runs
        .iter()
        .find(|(_, l)| &l.results.header.task.name != task)
    {
        return Err(bad(format!(
            "{} is a run of another task than `{task}`: compare runs of one task",
            other.shown
        )));
    }
    let evidence = |(entry, log): &(Entry, Arc<LoadedLog>)| vigie_assess::EvidenceLog {
        path: entry.path.clone(),
        file_name: entry.shown.clone(),
        header: log.results.header.clone(),
        footer: log.results.finished.then(|| log.results.footer.clone()),
    };
    let base = evidence(&runs[0]);
    let mut deltas = Vec::new();
    for run in &runs[1..] {
        let other = evidence(run);
        let comparison = vigie_assess::compare(&base, &other, base.header.settings.seed)
            .map_err(|e| bad(e.to_string()))?;
        let label = format!("{} ({})", run.0.shown, run.1.results.header.model.name);
        deltas.extend(comparison.scorers.into_iter().map(|c| (label.clone(), c)));
    }
    let scorer = params
        .get("scorer")
        .cloned()
        .or_else(|| runs[0].1.index.scorers.first().cloned())
        .unwrap_or_default();
    let only = params.get("only").map_or("", String::as_str);
    let page = params.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    Ok(pages::compare_page(&runs, &deltas, &scorer, only, page))
}

async fn run(
    State(viewer): State<Arc<Viewer>>,
    headers: HeaderMap,
    UrlQuery(params): Params,
) -> Response {
    let v = viewer.clone();
    answer(&viewer, &headers, &params.clone(), move || {
        let entry = match v.entry(&params) {
            Ok(e) => e,
            Err(r) => return r.into_response(),
        };
        match v.load(&entry) {
            Ok(log) => {
                // Other runs of the same task, to compare with.
                let others: Vec<(Entry, String)> = v
                    .catalog
                    .entries()
                    .into_iter()
                    .filter(|e| e.id != entry.id)
                    .filter_map(|e| {
                        let other = v.summary(&e).ok()?;
                        (other.header.task.name == log.results.header.task.name)
                            .then(|| (e, other.header.model.name.clone()))
                    })
                    .collect();
                Html(pages::run_page(&entry, &log, &others)).into_response()
            }
            Err(e) => not_found(&format!("{}: {e}", entry.shown)),
        }
    })
    .await
}

fn selection(
    viewer: &Viewer,
    params: &BTreeMap<String, String>,
) -> Result<(Entry, Arc<LoadedLog>, Query, Selection), Refused> {
    let entry = viewer.entry(params)?;
    let log = viewer
        .load(&entry)
        .map_err(|e| missing(&format!("{}: {e}", entry.shown)))?;
    let query = Query::from_params(params).map_err(|e| Refused(StatusCode::BAD_REQUEST, e))?;
    let selection = log.index.select(&query, &entry.path);
    Ok((entry, log, query, selection))
}

async fn samples(
    State(viewer): State<Arc<Viewer>>,
    headers: HeaderMap,
    UrlQuery(params): Params,
) -> Response {
    let v = viewer.clone();
    answer(&viewer, &headers, &params.clone(), move || {
        if let Some(page) = first_page_while_indexing(&v, &params) {
            return page;
        }
        match selection(&v, &params) {
            Ok((entry, log, query, selection)) => Html(pages::samples_page(
                &entry, &log, &params, &query, &selection, false,
            ))
            .into_response(),
            Err(r) => r.into_response(),
        }
    })
    .await
}

/// The first page of a log whose index is still being built, unfiltered:
/// the first records written (the order runs finish them in), read
/// straight from the start of the file, so a large log's first rows show
/// at once; the rest when the index is ready. Its rows link to samples by
/// id and epoch, as their numbers in the whole index are not known yet.
fn first_page_while_indexing(
    viewer: &Viewer,
    params: &BTreeMap<String, String>,
) -> Option<Response> {
    let entry = viewer.entry(params).ok()?;
    let query = Query::from_params(params).ok()?;
    let plain = Query {
        per_page: query.per_page,
        ..Query::default()
    };
    if query != plain || viewer.cached(&entry).is_some() {
        return None;
    }
    let results = viewer.summary(&entry).ok()?;
    let mut reader = vigie_log::LogReader::open(&entry.path).ok()?;
    let first: Vec<(u64, vigie_log::SampleRecord)> = reader
        .samples_with_offsets()
        .ok()?
        .take(query.per_page.clamp(1, 500))
        .collect::<Result<_, _>>()
        .ok()?;
    let log = LoadedLog {
        index: SampleIndex::build(&results.header, first),
        results: (*results).clone(),
        seal: None,
        version: (0, None),
    };
    let mut selection = log.index.select(&plain, &entry.path);
    selection.total = results.footer.samples.completed.max(selection.total);
    selection.pages = selection
        .total
        .div_ceil(plain.per_page.clamp(1, 500))
        .max(1);
    Some(
        Html(pages::samples_page(
            &entry, &log, params, &plain, &selection, true,
        ))
        .into_response(),
    )
}

/// The row a sample page names: by number (`n`), or, from a page served
/// before the index was ready, whose rows are in file order, by id and
/// epoch (`sample`, `sample_epoch`).
fn sample_number(index: &SampleIndex, params: &BTreeMap<String, String>) -> Result<usize, String> {
    if let Some(id) = params.get("sample") {
        let epoch = params
            .get("sample_epoch")
            .and_then(|e| e.parse::<u32>().ok())
            .unwrap_or(1);
        return index
            .rows()
            .position(|r| r.id == id.as_str() && r.epoch == epoch)
            .ok_or_else(|| format!("the log has no sample {id} of epoch {epoch}"));
    }
    params
        .get("n")
        .and_then(|n| n.parse::<usize>().ok())
        .ok_or_else(|| "which sample? (the `n` parameter is missing)".to_string())
}

async fn api_samples(
    State(viewer): State<Arc<Viewer>>,
    headers: HeaderMap,
    UrlQuery(params): Params,
) -> Response {
    let v = viewer.clone();
    answer(&viewer, &headers, &params.clone(), move || {
        match selection(&v, &params) {
            Ok((_, log, _, selection)) => {
                let rows: Vec<_> = selection
                    .shown
                    .iter()
                    .map(|&n| {
                        let row = log.index.row(n);
                        serde_json::json!({
                            "n": n, "id": row.id, "epoch": row.epoch, "error": log.index.error_of(n),
                            "scores": log.index.scorers.iter().enumerate().map(|(i, s)| (s.clone(), log.index.score_of(n, i))).collect::<BTreeMap<_, _>>(),
                        })
                    })
                    .collect();
                axum::Json(serde_json::json!({
                    "total": selection.total, "page": selection.page, "pages": selection.pages, "rows": rows,
                }))
                .into_response()
            }
            Err(r) => r.into_response(),
        }
    })
    .await
}

async fn sample(
    State(viewer): State<Arc<Viewer>>,
    headers: HeaderMap,
    UrlQuery(params): Params,
) -> Response {
    let v = viewer.clone();
    answer(&viewer, &headers, &params.clone(), move || {
        let (entry, log, _, selection) = match selection(&v, &params) {
            Ok(s) => s,
            Err(r) => return r.into_response(),
        };
        let n = match sample_number(&log.index, &params) {
            Ok(n) => n,
            Err(why) => return not_found(&why),
        };
        let Some(row) = (n < log.index.len()).then(|| log.index.row(n)) else {
            return not_found(&format!("the log has no sample number {n}"));
        };
        let record = vigie_log::LogReader::open(&entry.path)
            .and_then(|mut r| r.record_at(row.offset))
            .map(Some);
        match record {
            Ok(Some(record)) => {
                let at = selection.matching.iter().position(|&m| m == n);
                let previous = at
                    .and_then(|i| i.checked_sub(1))
                    .map(|i| selection.matching[i]);
                let next = at.and_then(|i| selection.matching.get(i + 1).copied());
                Html(pages::sample_page(
                    &entry,
                    &record,
                    &params,
                    (previous, next),
                ))
                .into_response()
            }
            Ok(None) => not_found(&format!(
                "sample {} epoch {} is not in the log",
                row.id, row.epoch
            )),
            Err(e) => not_found(&e.to_string()),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigie_log::fixtures;

    #[test]
    fn the_first_page_is_served_from_the_file_until_the_index_is_ready() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.vlog");
        let header = fixtures::header("t", "m", "flag", 80);
        let mut writer = vigie_log::LogWriter::create(&path, &header).unwrap();
        // Written last first, as a concurrent run finishes out of order.
        for i in (0..80).rev() {
            let record = fixtures::record(
                &format!("s{i}"),
                i,
                "flag",
                1.0,
                &format!("q{i}"),
                &format!("answer {i}"),
            );
            writer.append_sample(&record).unwrap();
        }
        drop(writer);
        let viewer = Viewer::new(
            Catalog::new(&[dir.path().to_path_buf()]).unwrap(),
            None,
            vigie_assess::Framework::builtin(),
        );
        let params = |extra: &[(&str, &str)]| -> BTreeMap<String, String> {
            [("log", "0/run.vlog")]
                .iter()
                .chain(extra)
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let response = first_page_while_indexing(&viewer, &params(&[("per", "20")]))
            .expect("served from the file");
        assert_eq!(response.status(), StatusCode::OK);
        let body = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(axum::body::to_bytes(response.into_body(), usize::MAX))
            .unwrap();
        let body = String::from_utf8_lossy(&body);
        // The first written, linked by id: their numbers are not known yet.
        assert!(body.contains("the first samples written"), "{body}");
        assert!(
            body.contains("sample=s79") && body.contains("sample=s60"),
            "{body}"
        );
        assert!(
            !body.contains("sample=s59") && !body.contains("n=0"),
            "{body}"
        );
        // A filter waits for the index; once it is built, the index answers.
        assert!(first_page_while_indexing(&viewer, &params(&[("q", "answer 7")])).is_none());
        let entry = viewer.catalog.find("0/run.vlog").unwrap();
        let log = viewer.load(&entry).unwrap();
        assert_eq!(log.index.len(), 80);
        let n = sample_number(
            &log.index,
            &params(&[("sample", "s79"), ("sample_epoch", "1")]),
        );
        assert_eq!(n.map(|n| log.index.row(n).id), Ok("s79"));
        assert_eq!(log.index.row(79).id, "s79", "the index is in run order");
        assert!(sample_number(&log.index, &params(&[("sample", "s80")]))
            .unwrap_err()
            .contains("no sample s80"));
        assert!(first_page_while_indexing(&viewer, &params(&[])).is_none());
        let found = log.index.select(
            &Query::from_params(&params(&[("q", "ANSWER 7")])).unwrap(),
            &entry.path,
        );
        let ids: Vec<&str> = found
            .matching
            .iter()
            .map(|&n| log.index.row(n).id)
            .collect();
        assert_eq!(
            ids,
            ["s7", "s70", "s71", "s72", "s73", "s74", "s75", "s76", "s77", "s78", "s79"]
        );
    }
}
