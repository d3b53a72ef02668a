//! Reading and writing the framed file format described in the crate docs.
//! The writer issues one `write` per frame so a killed process leaves at
//! most one torn frame at the end, which [`LogWriter::reopen`] cuts off.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::manifest::ManifestBuilder;
use crate::schema::{LogFooter, LogHeader, SampleRecord, Signature};
use crate::{LogError, Manifest, FORMAT_VERSION};

const MAGIC: &[u8; 8] = b"VIGIELOG";
const TRAILER_MAGIC: &[u8; 8] = b"VIGIEEND";
const PREAMBLE_LEN: u64 = 16;
const FRAME_HEADER_LEN: usize = 16;
const TRAILER_LEN: u64 = FRAME_HEADER_LEN as u64 + 16;
const CODEC_STORED: u8 = 0;
const CODEC_ZSTD: u8 = 1;
const ZSTD_LEVEL: i32 = 3;
/// Frames larger than this are taken as damage, not data.
const MAX_FRAME_BYTES: u32 = 256 << 20;

/// What a frame holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// The header, first.
    Header = 1,
    /// One sample record.
    Sample = 2,
    /// The results of a finished run.
    Footer = 3,
    /// The pointer to the footer, last.
    Trailer = 4,
    /// The manifest of hashes, after the footer.
    Manifest = 5,
    /// A signature over the manifest, after it (one per signer).
    Signature = 6,
}

impl FrameKind {
    fn from_byte(byte: u8) -> Option<FrameKind> {
        match byte {
            1 => Some(FrameKind::Header),
            2 => Some(FrameKind::Sample),
            3 => Some(FrameKind::Footer),
            4 => Some(FrameKind::Trailer),
            5 => Some(FrameKind::Manifest),
            6 => Some(FrameKind::Signature),
            _ => None,
        }
    }
}

/// One complete frame as stored: for checking a log byte for byte.
#[derive(Debug, Clone)]
pub struct RawFrame {
    /// What it holds.
    pub kind: FrameKind,
    /// Where it starts in the file.
    pub offset: u64,
    /// Its key (a sample frame's `u32le(epoch) ‖ id`; empty otherwise).
    pub key: Vec<u8>,
    /// Its payload, decompressed: JSON, or the trailer's 16 bytes.
    pub payload: Vec<u8>,
}

/// Every frame of a log, in file order.
#[derive(Debug, Clone)]
pub struct RawFrames {
    /// The complete frames.
    pub frames: Vec<RawFrame>,
    /// Where a torn final frame starts, if the file ends inside one.
    pub torn_at: Option<u64>,
    /// The format version in the preamble.
    pub format_version: u32,
}

struct FrameHead {
    kind: FrameKind,
    codec: u8,
    key_len: usize,
    payload_len: usize,
    raw_len: usize,
    crc: u32,
}

impl FrameHead {
    fn parse(bytes: &[u8; FRAME_HEADER_LEN]) -> Result<FrameHead, String> {
        let kind = FrameKind::from_byte(bytes[0])
            .ok_or_else(|| format!("unknown frame kind {}", bytes[0]))?;
        let codec = bytes[1];
        if codec != CODEC_STORED && codec != CODEC_ZSTD {
            return Err(format!("unknown codec {codec}"));
        }
        let u32_at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let payload_len = u32_at(4);
        let raw_len = u32_at(8);
        if payload_len > MAX_FRAME_BYTES || raw_len > MAX_FRAME_BYTES {
            return Err(format!("implausible frame length {payload_len}"));
        }
        Ok(FrameHead {
            kind,
            codec,
            key_len: u16::from_le_bytes([bytes[2], bytes[3]]) as usize,
            payload_len: payload_len as usize,
            raw_len: raw_len as usize,
            crc: u32_at(12),
        })
    }

    fn body_len(&self) -> usize {
        self.key_len + self.payload_len
    }
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> LogError + '_ {
    move |source| LogError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> LogError {
    LogError::Corrupt {
        path: path.display().to_string(),
        offset,
        reason: reason.into(),
    }
}

/// Appends records to a log. Each append reaches the operating system before
/// it returns, so a killed process loses nothing it appended.
pub struct LogWriter {
    file: File,
    path: PathBuf,
    offset: u64,
    compressor: zstd::bulk::Compressor<'static>,
    frame: Vec<u8>,
    header: LogHeader,
    manifest: ManifestBuilder,
}

/// A log reopened to append after a crash, a cancel or an error.
pub struct ReopenedLog {
    /// The writer, positioned after the last complete sample.
    pub writer: LogWriter,
    /// The log's header.
    pub header: LogHeader,
    /// The complete sample records already in the log, in file order.
    pub samples: Vec<SampleRecord>,
    /// The footer the log had, if the run had ended (it is removed: a new one follows).
    pub previous_footer: Option<LogFooter>,
    /// Bytes of a torn final frame that were cut off.
    pub torn_bytes: u64,
}

impl LogWriter {
    /// Creates a new log at `path` (which must not exist) and writes its header.
    pub fn create(path: &Path, header: &LogHeader) -> Result<LogWriter, LogError> {
        // A new log is written in this build's format, whatever the header
        // was copied from (`vigie score` starts from an older log's).
        let header = &LogHeader {
            format_version: FORMAT_VERSION,
            ..header.clone()
        };
        let header_json = to_json(path, header)?;
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(io_err(path))?;
        let mut writer = LogWriter::from_file(
            file,
            path,
            0,
            header.clone(),
            ManifestBuilder::new(&header_json),
        )?;
        writer.write_raw(&preamble())?;
        writer.append_json(FrameKind::Header, &[], &header_json)?;
        Ok(writer)
    }

    fn from_file(
        file: File,
        path: &Path,
        offset: u64,
        header: LogHeader,
        manifest: ManifestBuilder,
    ) -> Result<LogWriter, LogError> {
        let compressor = zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(io_err(path))?;
        Ok(LogWriter {
            file,
            path: path.to_path_buf(),
            offset,
            compressor,
            frame: Vec::new(),
            header,
            manifest,
        })
    }

    /// Opens an existing log to append to it: reads what it holds, cuts off a
    /// torn final frame and any footer (with its manifest and signatures, which
    /// a resumed run invalidates), and positions the writer at the end.
    /// Damage anywhere but the final frame is an error, and nothing is cut.
    pub fn reopen(path: &Path) -> Result<ReopenedLog, LogError> {
        let mut reader = LogReader::open(path)?;
        let mut header = None;
        let mut manifest = None;
        let mut samples = Vec::new();
        let mut previous_footer = None;
        let mut keep_until = PREAMBLE_LEN;
        let mut torn_bytes = 0;
        loop {
            match reader.next_frame()? {
                Frame::End => break,
                Frame::Torn { offset } => {
                    torn_bytes = reader.len - offset;
                    break;
                }
                Frame::Complete {
                    kind,
                    offset,
                    body,
                    head,
                } => {
                    match kind {
                        FrameKind::Header => {
                            let json = reader.payload(&head, &body, offset)?.to_vec();
                            header = Some(parse::<LogHeader>(path, &json, offset)?);
                            manifest = Some(ManifestBuilder::new(&json));
                        }
                        FrameKind::Sample => {
                            let json = reader.payload(&head, &body, offset)?.to_vec();
                            let mut record = parse::<SampleRecord>(path, &json, offset)?;
                            let version = header
                                .as_ref()
                                .map_or(FORMAT_VERSION, |h: &LogHeader| h.format_version);
                            crate::upgrade::record(version, &mut record);
                            let builder = manifest.as_mut().ok_or_else(|| {
                                corrupt(path, offset, "a sample comes before the header")
                            })?;
                            builder.add_record(
                                &record.id,
                                record.epoch,
                                &body[..head.key_len],
                                &json,
                            );
                            samples.push(record);
                        }
                        FrameKind::Footer => {
                            previous_footer =
                                Some(reader.decode::<LogFooter>(&head, &body, offset)?);
                            continue;
                        }
                        FrameKind::Trailer | FrameKind::Manifest | FrameKind::Signature => continue,
                    }
                    if previous_footer.is_some() {
                        return Err(corrupt(path, offset, "a record follows the footer"));
                    }
                    keep_until = offset + (FRAME_HEADER_LEN + head.body_len()) as u64;
                }
            }
        }
        let (Some(header), Some(manifest)) = (header, manifest) else {
            return Err(LogError::NoHeader {
                path: path.display().to_string(),
            });
        };
        let mut file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io_err(path))?;
        file.set_len(keep_until).map_err(io_err(path))?;
        // What follows is written in this build's format.
        file.write_all(&preamble()).map_err(io_err(path))?;
        file.seek(SeekFrom::Start(keep_until))
            .map_err(io_err(path))?;
        let writer = LogWriter::from_file(file, path, keep_until, header.clone(), manifest)?;
        Ok(ReopenedLog {
            writer,
            header,
            samples,
            previous_footer,
            torn_bytes,
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The log's header.
    pub fn header(&self) -> &LogHeader {
        &self.header
    }

    /// Appends one sample record.
    pub fn append_sample(&mut self, record: &SampleRecord) -> Result<(), LogError> {
        let key = record.frame_key();
        let json = to_json(&self.path, record)?;
        self.append_json(FrameKind::Sample, &key, &json)?;
        self.manifest
            .add_record(&record.id, record.epoch, &key, &json);
        Ok(())
    }

    /// Writes the footer, the manifest and the trailer, and syncs the file to disk.
    pub fn finish(mut self, footer: &LogFooter) -> Result<(), LogError> {
        let footer_offset = self.offset;
        let footer_json = to_json(&self.path, footer)?;
        self.append_json(FrameKind::Footer, &[], &footer_json)?;
        let manifest = self.manifest.finish(&self.header, &footer_json);
        let manifest_json = to_json(&self.path, &manifest)?;
        self.append_json(FrameKind::Manifest, &[], &manifest_json)?;
        let payload = trailer_payload(footer_offset);
        self.write_frame(
            FrameKind::Trailer,
            CODEC_STORED,
            &[],
            &payload,
            payload.len(),
        )?;
        self.file.sync_all().map_err(io_err(&self.path))
    }

    /// Syncs what was appended so far to disk (appends already survive a
    /// killed process; this guards against a lost machine).
    pub fn sync(&mut self) -> Result<(), LogError> {
        self.file.sync_data().map_err(io_err(&self.path))
    }

    fn append_json(&mut self, kind: FrameKind, key: &[u8], json: &[u8]) -> Result<(), LogError> {
        let compressed = self.compressor.compress(json).map_err(io_err(&self.path))?;
        self.write_frame(kind, CODEC_ZSTD, key, &compressed, json.len())
    }

    fn write_frame(
        &mut self,
        kind: FrameKind,
        codec: u8,
        key: &[u8],
        payload: &[u8],
        raw_len: usize,
    ) -> Result<(), LogError> {
        let mut frame = std::mem::take(&mut self.frame);
        let result = encode_frame(&mut frame, kind, codec, key, payload, raw_len)
            .map_err(|e| io_err(&self.path)(std::io::Error::other(e)))
            .and_then(|()| self.write_raw(&frame));
        self.frame = frame;
        result
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        self.file.write_all(bytes).map_err(io_err(&self.path))?;
        self.offset += bytes.len() as u64;
        Ok(())
    }
}

fn preamble() -> Vec<u8> {
    let mut preamble = Vec::with_capacity(PREAMBLE_LEN as usize);
    preamble.extend_from_slice(MAGIC);
    preamble.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    preamble.extend_from_slice(&0u32.to_le_bytes());
    preamble
}

fn trailer_payload(footer_offset: u64) -> Vec<u8> {
    let mut payload = Vec::with_capacity(16);
    payload.extend_from_slice(&footer_offset.to_le_bytes());
    payload.extend_from_slice(TRAILER_MAGIC);
    payload
}

fn to_json<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>, LogError> {
    serde_json::to_vec(value).map_err(|e| io_err(path)(std::io::Error::other(e)))
}

fn parse<T: DeserializeOwned>(path: &Path, json: &[u8], offset: u64) -> Result<T, LogError> {
    serde_json::from_slice(json)
        .map_err(|e| corrupt(path, offset, format!("record does not parse: {e}")))
}

fn encode_frame(
    frame: &mut Vec<u8>,
    kind: FrameKind,
    codec: u8,
    key: &[u8],
    payload: &[u8],
    raw_len: usize,
) -> Result<(), &'static str> {
    let key_len = u16::try_from(key.len()).map_err(|_| "sample id longer than 65,531 bytes")?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(key);
    crc.update(payload);
    frame.clear();
    frame.push(kind as u8);
    frame.push(codec);
    frame.extend_from_slice(&key_len.to_le_bytes());
    frame.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    frame.extend_from_slice(&(raw_len as u32).to_le_bytes());
    frame.extend_from_slice(&crc.finalize().to_le_bytes());
    frame.extend_from_slice(key);
    frame.extend_from_slice(payload);
    Ok(())
}

/// Adds a signature frame to a finished log, before its trailer. The log is
/// rewritten beside itself and renamed over the original, so a crash leaves
/// either the old log or the signed one, never a log without its trailer.
pub fn append_signature(path: &Path, signature: &Signature) -> Result<(), LogError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let mut reader = LogReader::open(path)?;
    if reader.footer()?.is_none() {
        return Err(corrupt(
            path,
            bytes.len() as u64,
            "the run has not finished (no footer): only a finished log can be signed",
        ));
    }
    let trailer_start = bytes.len() - TRAILER_LEN as usize;
    let json = to_json(path, signature)?;
    let mut frame = Vec::new();
    encode_frame(
        &mut frame,
        FrameKind::Signature,
        CODEC_STORED,
        &[],
        &json,
        json.len(),
    )
    .map_err(|e| io_err(path)(std::io::Error::other(e)))?;
    let mut signed = Vec::with_capacity(bytes.len() + frame.len());
    signed.extend_from_slice(&bytes[..trailer_start]);
    signed.extend_from_slice(&frame);
    signed.extend_from_slice(&bytes[trailer_start..]);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{file_name}.signing"));
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&temp)?;
        file.write_all(&signed)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        io_err(path)(e)
    })
}

enum Frame {
    Complete {
        kind: FrameKind,
        offset: u64,
        head: FrameHead,
        body: Vec<u8>,
    },
    /// The file ends inside this frame, or its checksum fails and nothing follows it.
    Torn {
        offset: u64,
    },
    End,
}

/// A sample frame as read: its offset, head and body (still compressed).
type SampleFrame = (u64, FrameHead, Vec<u8>);

/// Reads a log: its header, its footer, one sample, or all samples as a stream.
pub struct LogReader {
    file: BufReader<File>,
    path: PathBuf,
    len: u64,
    position: u64,
    decompressor: zstd::bulk::Decompressor<'static>,
    scratch: Vec<u8>,
    /// The format version the run began in (its header's), once read:
    /// records are brought up to date from it ([`crate::upgrade`]).
    run_version: Option<u32>,
}

impl LogReader {
    /// Opens a log and checks its preamble.
    pub fn open(path: &Path) -> Result<LogReader, LogError> {
        let file = File::open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        let mut file = BufReader::with_capacity(1 << 16, file);
        let mut preamble = [0u8; PREAMBLE_LEN as usize];
        if len < PREAMBLE_LEN || file.read_exact(&mut preamble).is_err() || &preamble[..8] != MAGIC
        {
            return Err(LogError::NotALog {
                path: path.display().to_string(),
            });
        }
        let version = u32::from_le_bytes([preamble[8], preamble[9], preamble[10], preamble[11]]);
        if version > FORMAT_VERSION {
            return Err(LogError::UnsupportedVersion {
                path: path.display().to_string(),
                version,
            });
        }
        let decompressor = zstd::bulk::Decompressor::new().map_err(io_err(path))?;
        Ok(LogReader {
            file,
            path: path.to_path_buf(),
            len,
            position: PREAMBLE_LEN,
            decompressor,
            scratch: Vec::new(),
            run_version: None,
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the header, the first frame, without touching the rest of the file.
    pub fn header(&mut self) -> Result<LogHeader, LogError> {
        self.seek(PREAMBLE_LEN)?;
        match self.next_frame()? {
            Frame::Complete {
                kind: FrameKind::Header,
                offset,
                head,
                body,
            } => {
                let header: LogHeader = self.decode(&head, &body, offset)?;
                self.run_version = Some(header.format_version);
                Ok(header)
            }
            _ => Err(LogError::NoHeader {
                path: self.path.display().to_string(),
            }),
        }
    }

    /// Reads the footer through the trailer at the end of the file; `None`
    /// when the run has no footer (still running, or killed).
    pub fn footer(&mut self) -> Result<Option<LogFooter>, LogError> {
        let Some(footer_offset) = self.footer_offset()? else {
            return Ok(None);
        };
        self.seek(footer_offset)?;
        match self.next_frame()? {
            Frame::Complete {
                kind: FrameKind::Footer,
                offset,
                head,
                body,
            } => Ok(Some(self.decode(&head, &body, offset)?)),
            _ => Err(corrupt(
                &self.path,
                footer_offset,
                "the trailer points at no footer",
            )),
        }
    }

    /// Where the footer starts, from the trailer; `None` without a trailer.
    fn footer_offset(&mut self) -> Result<Option<u64>, LogError> {
        if self.len < PREAMBLE_LEN + TRAILER_LEN {
            return Ok(None);
        }
        // Read the last bytes raw: in a log without a footer they are the
        // middle of a sample frame, not a frame head.
        let trailer_start = self.len - TRAILER_LEN;
        self.seek(trailer_start)?;
        let mut trailer = [0u8; TRAILER_LEN as usize];
        self.read_exact(&mut trailer, trailer_start)?;
        let payload = &trailer[FRAME_HEADER_LEN..];
        let is_trailer = trailer[0] == FrameKind::Trailer as u8
            && &payload[8..] == TRAILER_MAGIC
            && crc32fast::hash(payload)
                == u32::from_le_bytes(trailer[12..16].try_into().expect("4 bytes"));
        if !is_trailer {
            return Ok(None);
        }
        Ok(Some(u64::from_le_bytes(
            payload[..8].try_into().expect("8 bytes"),
        )))
    }

    /// Finds the record that counts for a sample's epoch (the last one with
    /// that key), skipping over frames without decompressing them.
    pub fn sample(&mut self, id: &str, epoch: u32) -> Result<Option<SampleRecord>, LogError> {
        self.run_version()?;
        let mut wanted = Vec::with_capacity(4 + id.len());
        wanted.extend_from_slice(&epoch.to_le_bytes());
        wanted.extend_from_slice(id.as_bytes());
        self.seek(PREAMBLE_LEN)?;
        let mut last = None;
        loop {
            let offset = self.position;
            if offset + FRAME_HEADER_LEN as u64 > self.len {
                break; // the end, or a torn frame head
            }
            let Some(head) = self.read_head()? else { break };
            if offset + (FRAME_HEADER_LEN + head.body_len()) as u64 > self.len {
                break; // a torn final frame
            }
            if head.kind == FrameKind::Sample && head.key_len == wanted.len() {
                let mut key = vec![0u8; head.key_len];
                self.read_exact(&mut key, offset)?;
                if key == wanted {
                    last = Some(offset);
                }
                self.skip(head.payload_len as u64)?;
            } else {
                self.skip(head.body_len() as u64)?;
            }
        }
        let Some(offset) = last else { return Ok(None) };
        self.seek(offset)?;
        match self.next_frame()? {
            Frame::Complete {
                offset, head, body, ..
            } => self.decode_record(&head, &body, offset).map(Some),
            _ => Err(corrupt(
                &self.path,
                offset,
                "the frame changed while it was read",
            )),
        }
    }

    /// Streams every complete sample record in file order. A torn final frame
    /// (a run killed mid-write) ends the stream quietly; damage elsewhere is an error.
    pub fn samples(&mut self) -> Result<SampleFrames<'_>, LogError> {
        self.run_version()?;
        self.seek(PREAMBLE_LEN)?;
        Ok(SampleFrames { reader: self })
    }

    /// Streams every complete sample record with the offset of its frame,
    /// for readers that come back to a record later ([`LogReader::record_at`]).
    pub fn samples_with_offsets(&mut self) -> Result<OffsetSampleFrames<'_>, LogError> {
        self.run_version()?;
        self.seek(PREAMBLE_LEN)?;
        Ok(OffsetSampleFrames { reader: self })
    }

    /// The sample record whose frame starts at `offset` (one the stream of
    /// [`LogReader::samples_with_offsets`] gave).
    pub fn record_at(&mut self, offset: u64) -> Result<SampleRecord, LogError> {
        self.run_version()?;
        self.seek(offset)?;
        match self.next_frame()? {
            Frame::Complete {
                kind: FrameKind::Sample,
                offset,
                head,
                body,
            } => self.decode_record(&head, &body, offset),
            _ => Err(corrupt(&self.path, offset, "no sample record starts here")),
        }
    }

    /// Streams the decompressed JSON of every sample frame from the frame at
    /// `offset` on, undecoded, with each frame's offset: a fast sequential
    /// look at the records (a search) before decoding the few that match.
    pub fn payloads_from(&mut self, offset: u64) -> Result<PayloadFrames<'_>, LogError> {
        self.seek(offset.max(PREAMBLE_LEN))?;
        Ok(PayloadFrames { reader: self })
    }

    /// The decompressed JSON of the sample frame at `offset`, undecoded: for
    /// a fast first look (a search) before decoding the few that match.
    pub fn payload_at(&mut self, offset: u64) -> Result<Vec<u8>, LogError> {
        self.seek(offset)?;
        match self.next_frame()? {
            Frame::Complete {
                kind: FrameKind::Sample,
                offset,
                head,
                body,
            } => self.payload(&head, &body, offset).map(<[u8]>::to_vec),
            _ => Err(corrupt(&self.path, offset, "no sample record starts here")),
        }
    }

    /// The next sample frame from the current position: the streams' one
    /// loop. Frames of other kinds before it are skipped; the footer (or
    /// what follows it), the end or a torn tail ends the samples.
    fn next_sample_frame(&mut self) -> Option<Result<SampleFrame, LogError>> {
        loop {
            match self.next_frame() {
                Err(e) => return Some(Err(e)),
                Ok(Frame::End | Frame::Torn { .. }) => return None,
                Ok(Frame::Complete {
                    kind: FrameKind::Sample,
                    offset,
                    head,
                    body,
                }) => return Some(Ok((offset, head, body))),
                Ok(Frame::Complete {
                    kind:
                        FrameKind::Footer
                        | FrameKind::Trailer
                        | FrameKind::Manifest
                        | FrameKind::Signature,
                    ..
                }) => return None,
                Ok(Frame::Complete { .. }) => continue,
            }
        }
    }

    fn seek(&mut self, offset: u64) -> Result<(), LogError> {
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(io_err(&self.path))?;
        self.position = offset;
        Ok(())
    }

    fn skip(&mut self, bytes: u64) -> Result<(), LogError> {
        self.file
            .seek_relative(bytes as i64)
            .map_err(io_err(&self.path))?;
        self.position += bytes;
        Ok(())
    }

    fn read_exact(&mut self, buf: &mut [u8], frame_offset: u64) -> Result<(), LogError> {
        self.file
            .read_exact(buf)
            .map_err(|_| corrupt(&self.path, frame_offset, "the file ends inside this frame"))?;
        self.position += buf.len() as u64;
        Ok(())
    }

    /// Reads a frame head; `None` at a clean end of file.
    fn read_head(&mut self) -> Result<Option<FrameHead>, LogError> {
        let offset = self.position;
        if offset == self.len {
            return Ok(None);
        }
        if offset + FRAME_HEADER_LEN as u64 > self.len {
            return Err(corrupt(
                &self.path,
                offset,
                "the file ends inside a frame header",
            ));
        }
        let mut bytes = [0u8; FRAME_HEADER_LEN];
        self.read_exact(&mut bytes, offset)?;
        FrameHead::parse(&bytes)
            .map(Some)
            .map_err(|reason| corrupt(&self.path, offset, reason))
    }

    fn next_frame(&mut self) -> Result<Frame, LogError> {
        let offset = self.position;
        if offset == self.len {
            return Ok(Frame::End);
        }
        let head = match self.read_head() {
            Ok(Some(head)) => head,
            Ok(None) => return Ok(Frame::End),
            // A frame head cut by the end of the file is a torn tail.
            Err(_) if offset + FRAME_HEADER_LEN as u64 > self.len => {
                return Ok(Frame::Torn { offset })
            }
            Err(e) => return Err(e),
        };
        let end = offset + (FRAME_HEADER_LEN + head.body_len()) as u64;
        if end > self.len {
            return Ok(Frame::Torn { offset });
        }
        let mut body = vec![0u8; head.body_len()];
        self.read_exact(&mut body, offset)?;
        if crc32fast::hash(&body) != head.crc {
            if end == self.len {
                return Ok(Frame::Torn { offset });
            }
            return Err(corrupt(&self.path, offset, "checksum mismatch"));
        }
        Ok(Frame::Complete {
            kind: head.kind,
            offset,
            head,
            body,
        })
    }

    /// Reads every frame of the log, payloads decompressed, for a byte-level check.
    pub fn raw_frames(&mut self) -> Result<RawFrames, LogError> {
        self.seek(8)?;
        let mut version = [0u8; 4];
        self.read_exact(&mut version, 0)?;
        self.seek(PREAMBLE_LEN)?;
        let mut frames = Vec::new();
        let torn_at = loop {
            match self.next_frame()? {
                Frame::End => break None,
                Frame::Torn { offset } => break Some(offset),
                Frame::Complete {
                    kind,
                    offset,
                    head,
                    body,
                } => {
                    let payload = self.payload(&head, &body, offset)?.to_vec();
                    frames.push(RawFrame {
                        kind,
                        offset,
                        key: body[..head.key_len].to_vec(),
                        payload,
                    });
                }
            }
        };
        Ok(RawFrames {
            frames,
            torn_at,
            format_version: u32::from_le_bytes(version),
        })
    }

    /// The header frame and, for a finished log, every frame from the
    /// footer on (footer, manifest, signatures, trailer), payloads
    /// decompressed: what a check of the seal reads, without the records.
    pub fn raw_ends(&mut self) -> Result<(RawFrame, Vec<RawFrame>), LogError> {
        let raw = |reader: &mut LogReader, frame: Frame| -> Result<Option<RawFrame>, LogError> {
            let Frame::Complete {
                kind,
                offset,
                head,
                body,
            } = frame
            else {
                return Ok(None);
            };
            // Owned, not copied from the scratch buffer: a million-record
            // manifest is a hundred MB.
            let payload = match head.codec {
                CODEC_ZSTD => {
                    let mut payload = Vec::with_capacity(head.raw_len);
                    reader
                        .decompressor
                        .decompress_to_buffer(&body[head.key_len..], &mut payload)
                        .map_err(|e| corrupt(&reader.path, offset, format!("zstd: {e}")))?;
                    payload
                }
                _ => body[head.key_len..].to_vec(),
            };
            Ok(Some(RawFrame {
                kind,
                offset,
                key: body[..head.key_len].to_vec(),
                payload,
            }))
        };
        self.seek(PREAMBLE_LEN)?;
        let frame = self.next_frame()?;
        let header = raw(self, frame)?
            .filter(|f| f.kind == FrameKind::Header)
            .ok_or_else(|| LogError::NoHeader {
                path: self.path.display().to_string(),
            })?;
        let mut ends = Vec::new();
        if let Some(footer_offset) = self.footer_offset()? {
            self.seek(footer_offset)?;
            loop {
                let frame = self.next_frame()?;
                match raw(self, frame)? {
                    Some(frame) => ends.push(frame),
                    None => break,
                }
            }
        }
        Ok((header, ends))
    }

    /// The manifest of a finished log, and the signatures after it; `None`
    /// for a log without one (a run not finished, or written before
    /// manifests). Only the frames after the footer are read.
    pub fn manifest(&mut self) -> Result<Option<(Manifest, Vec<Signature>)>, LogError> {
        let Some(footer_offset) = self.footer_offset()? else {
            return Ok(None);
        };
        self.seek(footer_offset)?;
        let mut found: Option<(Manifest, Vec<Signature>)> = None;
        while let Frame::Complete {
            kind,
            offset,
            head,
            body,
        } = self.next_frame()?
        {
            match kind {
                FrameKind::Manifest => {
                    found = Some((self.decode(&head, &body, offset)?, Vec::new()))
                }
                FrameKind::Signature => {
                    let signature = self.decode(&head, &body, offset)?;
                    let (_, signatures) = found.as_mut().ok_or_else(|| {
                        corrupt(&self.path, offset, "a signature comes before the manifest")
                    })?;
                    signatures.push(signature);
                }
                _ => {}
            }
        }
        Ok(found)
    }

    /// A frame's payload, decompressed (borrowed from a scratch buffer).
    fn payload<'a>(
        &'a mut self,
        head: &FrameHead,
        body: &'a [u8],
        offset: u64,
    ) -> Result<&'a [u8], LogError> {
        let payload = &body[head.key_len..];
        match head.codec {
            CODEC_ZSTD => {
                self.scratch.clear();
                self.scratch.reserve(head.raw_len);
                self.decompressor
                    .decompress_to_buffer(payload, &mut self.scratch)
                    .map_err(|e| corrupt(&self.path, offset, format!("zstd: {e}")))?;
                Ok(&self.scratch)
            }
            _ => Ok(payload),
        }
    }

    /// The format version the run began in, from its header.
    fn run_version(&mut self) -> Result<u32, LogError> {
        match self.run_version {
            Some(version) => Ok(version),
            None => Ok(self.header()?.format_version),
        }
    }

    /// A sample record, brought up to date from the run's format version.
    fn decode_record(
        &mut self,
        head: &FrameHead,
        body: &[u8],
        offset: u64,
    ) -> Result<SampleRecord, LogError> {
        let version = self.run_version()?;
        let mut record: SampleRecord = self.decode(head, body, offset)?;
        crate::upgrade::record(version, &mut record);
        Ok(record)
    }

    fn decode<T: DeserializeOwned>(
        &mut self,
        head: &FrameHead,
        body: &[u8],
        offset: u64,
    ) -> Result<T, LogError> {
        let path = self.path.clone();
        let raw = self.payload(head, body, offset)?;
        parse(&path, raw, offset)
    }
}

/// The stream of (frame offset, decompressed JSON) of a log's sample
/// frames, from [`LogReader::payloads_from`].
pub struct PayloadFrames<'a> {
    reader: &'a mut LogReader,
}

impl Iterator for PayloadFrames<'_> {
    type Item = Result<(u64, Vec<u8>), LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = &mut *self.reader;
        Some(
            reader
                .next_sample_frame()?
                .and_then(|(offset, head, body)| {
                    reader
                        .payload(&head, &body, offset)
                        .map(|raw| (offset, raw.to_vec()))
                }),
        )
    }
}

/// The stream of (frame offset, sample record) of a log, from
/// [`LogReader::samples_with_offsets`].
pub struct OffsetSampleFrames<'a> {
    reader: &'a mut LogReader,
}

impl Iterator for OffsetSampleFrames<'_> {
    type Item = Result<(u64, SampleRecord), LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = &mut *self.reader;
        Some(
            reader
                .next_sample_frame()?
                .and_then(|(offset, head, body)| {
                    reader
                        .decode_record(&head, &body, offset)
                        .map(|r| (offset, r))
                }),
        )
    }
}

/// The stream of sample records of a log, from [`LogReader::samples`].
pub struct SampleFrames<'a> {
    reader: &'a mut LogReader,
}

impl Iterator for SampleFrames<'_> {
    type Item = Result<SampleRecord, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        let reader = &mut *self.reader;
        Some(
            reader
                .next_sample_frame()?
                .and_then(|(offset, head, body)| reader.decode_record(&head, &body, offset)),
        )
    }
}

#[cfg(test)]
mod tests;
