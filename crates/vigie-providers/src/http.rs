//! An HTTP model: one endpoint, its connection limit, timeout, retries with
//! backoff, and the response cache, around a [`Protocol`].

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use vigie_core::{
    Adaptation, BoxFuture, GenerateConfig, GenerateRequest, ModelApi, ModelError, ModelErrorKind,
    ModelOutput,
};

use crate::cache::ResponseCache;
use crate::limiter::AdaptiveLimiter;
use crate::profile::{adapt, Profile};
use crate::protocol::Protocol;
use crate::{Auth, ProviderStats, RetryPolicy};

/// A model behind an HTTP API.
pub struct HttpModel {
    pub(crate) name: String,
    pub(crate) model_id: String,
    pub(crate) endpoint: String,
    /// `endpoint`, parsed once: parsing it for every request showed in profiles.
    pub(crate) url: reqwest::Url,
    pub(crate) auth: Auth,
    pub(crate) protocol: Protocol,
    /// The profile that matched the model's name, if one did.
    pub(crate) profile: Option<Profile>,
    pub(crate) client: reqwest::Client,
    pub(crate) limiter: Arc<AdaptiveLimiter>,
    pub(crate) timeout: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) cache: Option<ResponseCache>,
    pub(crate) stats: Arc<ProviderStats>,
}

impl HttpModel {
    async fn attempt(&self, body: &[u8]) -> Result<ModelOutput, ModelError> {
        let _permit = self.limiter.acquire().await;
        self.stats.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = tokio::time::timeout(self.timeout, self.send(body)).await;
        self.stats.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(Ok(output)) => {
                self.limiter.on_success();
                Ok(output)
            }
            Ok(Err(e)) => {
                if e.kind == ModelErrorKind::RateLimited {
                    self.limiter.on_rate_limited();
                }
                Err(e)
            }
            Err(_) => Err(ModelError::new(
                ModelErrorKind::Timeout,
                format!("no answer within {:.1}s", self.timeout.as_secs_f64()),
            )),
        }
    }

    async fn send(&self, body: &[u8]) -> Result<ModelOutput, ModelError> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header("content-type", "application/json")
            .body(body.to_vec());
        request = match &self.auth {
            Auth::None => request,
            Auth::Bearer(key) => request.bearer_auth(key),
            Auth::Header(name, key) => request.header(*name, key),
            Auth::SigV4(signer) => {
                let host = self.url.host_str().unwrap_or_default();
                let headers = [("host", host), ("content-type", "application/json")];
                let signed = signer
                    .headers(
                        "POST",
                        self.url.as_str(),
                        &headers,
                        body,
                        std::time::SystemTime::now(),
                    )
                    .map_err(|e| {
                        ModelError::new(
                            ModelErrorKind::Fatal,
                            format!("cannot sign the request: {e}"),
                        )
                    })?;
                signed.into_iter().fold(request, |request, (name, value)| {
                    request.header(name, value)
                })
            }
        };
        if self.protocol == Protocol::AnthropicMessages {
            request = request.header("anthropic-version", "2023-06-01");
        }
        let response = request.send().await.map_err(|e| transport_error(&e))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        let bytes = response.bytes().await.map_err(|e| transport_error(&e))?;
        if status == 200 {
            return self.protocol.parse(&bytes);
        }
        let mut error = self.protocol.classify(status, &bytes);
        error.retry_after = retry_after;
        Err(error)
    }
}

fn transport_error(e: &reqwest::Error) -> ModelError {
    // reqwest's Display omits the cause ("error sending request"); the chain says what happened.
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    let kind = if e.is_timeout() {
        ModelErrorKind::Timeout
    } else if e.is_decode() {
        ModelErrorKind::BadResponse
    } else {
        ModelErrorKind::Connection
    };
    ModelError::new(kind, message)
}

impl RetryPolicy {
    /// The wait before retry number `retry` (from 0): the server's
    /// `Retry-After` when it gave one, else exponential backoff with jitter
    /// (uniform in the upper half of `base × 2^retry`, capped at `max_delay`).
    pub fn delay(&self, retry: u32, retry_after: Option<f64>) -> Duration {
        let mut rng = rand::rng();
        if let Some(seconds) = retry_after {
            let seconds = seconds.clamp(0.0, self.max_delay.as_secs_f64());
            return Duration::from_secs_f64(seconds * rng.random_range(1.0..1.1));
        }
        let ceiling = (self.base.as_secs_f64() * 2f64.powi(retry.min(30) as i32))
            .min(self.max_delay.as_secs_f64());
        Duration::from_secs_f64(ceiling * rng.random_range(0.5..=1.0))
    }
}

impl ModelApi for HttpModel {
    fn name(&self) -> &str {
        &self.name
    }

    fn adaptation(&self, config: &GenerateConfig) -> Adaptation {
        let sent = adapt(self.profile.as_ref(), self.protocol, config);
        Adaptation {
            profile: self.profile.as_ref().map(|p| p.name.clone()),
            dropped: sent.dropped,
            reasons: sent.reasoning.is_some(),
            max_tokens_sent: sent.max_tokens,
            price: self.profile.as_ref().and_then(|p| p.price),
            context_tokens: self.profile.as_ref().and_then(|p| p.context_tokens),
        }
    }

    fn generate<'a>(
        &'a self,
        request: &'a GenerateRequest,
    ) -> BoxFuture<'a, Result<ModelOutput, ModelError>> {
        Box::pin(async move {
            let sent = adapt(self.profile.as_ref(), self.protocol, &request.config);
            let body = self.protocol.body(&self.model_id, request, &sent)?;
            let body = serde_json::to_vec(&body).map_err(|e| {
                ModelError::new(
                    ModelErrorKind::Fatal,
                    format!("cannot encode the request: {e}"),
                )
            })?;
            let key = self
                .cache
                .as_ref()
                .map(|_| ResponseCache::key(&self.name, &self.endpoint, &body));
            if let (Some(cache), Some(key)) = (&self.cache, &key) {
                if let Some(mut hit) = cache.get(key) {
                    hit.cached = true;
                    self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(hit);
                }
            }
            let mut retries = 0;
            loop {
                match self.attempt(&body).await {
                    Ok(mut output) => {
                        output.retries = retries;
                        if let (Some(cache), Some(key)) = (&self.cache, &key) {
                            // A cache that cannot be written costs a future request, not this answer.
                            let _ = cache.put(key, &output);
                        }
                        return Ok(output);
                    }
                    Err(mut e) => {
                        if !e.kind.is_retryable() || retries >= self.retry.max_retries {
                            e.retries = retries;
                            return Err(e);
                        }
                        tokio::time::sleep(self.retry.delay(retries, e.retry_after)).await;
                        retries += 1;
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let policy = RetryPolicy {
            max_retries: 5,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for retry in 0..4 {
            let ceiling = 0.1 * 2f64.powi(retry as i32);
            for _ in 0..50 {
                let d = policy.delay(retry, None).as_secs_f64();
                assert!(
                    d >= ceiling * 0.5 - 1e-9 && d <= ceiling + 1e-9,
                    "retry {retry}: {d}"
                );
            }
        }
        assert!(policy.delay(20, None) <= Duration::from_secs(1), "capped");
        let d = policy.delay(0, Some(0.5)).as_secs_f64();
        assert!((0.5..0.56).contains(&d), "{d}");
        assert!(
            policy.delay(0, Some(3600.0)) <= Duration::from_secs_f64(1.1),
            "Retry-After is capped too"
        );
    }
}
