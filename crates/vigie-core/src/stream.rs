//! Streamed answers: a [`BoxStream`] of [`StreamEvent`]s — pieces of text as
//! a model decodes them, then the whole output — so that a server can pass
//! them on as they come. A model that cannot stream answers in one piece
//! ([`in_one_piece`]). The `Stream` trait is futures-core's: no runtime.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;

use crate::{BoxFuture, ModelError, ModelOutput};

/// A boxed stream, the return type of the streaming methods.
pub type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + Send + 'a>>;

/// One event of a streamed answer.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The next piece of the answer's text.
    Text(String),
    /// The answer is complete: the whole output (its text is every piece
    /// joined), the last event of a stream.
    Done(ModelOutput),
}

/// A stream of a whole answer: its text as one piece, then `Done`; or the error.
pub(crate) fn in_one_piece<'a>(
    answer: BoxFuture<'a, Result<ModelOutput, ModelError>>,
) -> BoxStream<'a, Result<StreamEvent, ModelError>> {
    Box::pin(OnePiece {
        answer: Some(answer),
        done: None,
    })
}

struct OnePiece<'a> {
    answer: Option<BoxFuture<'a, Result<ModelOutput, ModelError>>>,
    done: Option<ModelOutput>,
}

impl Stream for OnePiece<'_> {
    type Item = Result<StreamEvent, ModelError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(output) = self.done.take() {
            return Poll::Ready(Some(Ok(StreamEvent::Done(output))));
        }
        let Some(answer) = self.answer.as_mut() else {
            return Poll::Ready(None);
        };
        match answer.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                self.answer = None;
                Poll::Ready(Some(match result {
                    Ok(output) if output.text.is_empty() => Ok(StreamEvent::Done(output)),
                    Ok(output) => {
                        let text = output.text.clone();
                        self.done = Some(output);
                        Ok(StreamEvent::Text(text))
                    }
                    Err(e) => Err(e),
                }))
            }
        }
    }
}
