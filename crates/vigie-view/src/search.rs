//! What full-text search reads: every record's searchable text (input,
//! output, the transcript; lower-cased), kept in memory in blocks of about
//! a MiB compressed with zstd. A log's own frames are compressed one by one,
//! and decompressing a million small frames costs seconds in table set-up
//! alone; a large block compresses better and decompresses at memory speed,
//! so a search over a million records takes a fraction of a second on two
//! cores. Past a budget the copy is given up, and search reads the log.

/// Raw bytes per block before it is compressed.
const BLOCK_BYTES: usize = 1 << 20;

/// Compressed bytes the copy may take; past it, search reads the log.
pub(crate) const BUDGET_BYTES: usize = 128 << 20;

/// zstd's fastest levels compress these texts about fivefold; the search
/// pays for decompression, not compression, so a fast level suffices.
const LEVEL: i32 = 1;

/// Separates records in a block; never in a needle (it is dropped from one).
const SEPARATOR: u8 = 0;

/// The searchable texts of a log's records, compressed.
#[derive(Debug, Default)]
pub(crate) struct SearchText {
    blocks: Vec<Block>,
}

#[derive(Debug)]
struct Block {
    /// Each record's row in the index (`u32::MAX`: replaced by a later record).
    rows: Vec<u32>,
    /// Where each record's text ends in the raw block.
    ends: Vec<u32>,
    raw_len: usize,
    compressed: Vec<u8>,
}

/// Collects texts in file order, one per record.
pub(crate) struct SearchTextBuilder {
    compressor: Option<zstd::bulk::Compressor<'static>>,
    raw: Vec<u8>,
    ends: Vec<u32>,
    blocks: Vec<Block>,
    records: u32,
    first_in_block: u32,
    compressed_bytes: usize,
    budget: usize,
}

impl SearchTextBuilder {
    /// A builder whose copy may take `budget` compressed bytes.
    pub(crate) fn new(budget: usize) -> SearchTextBuilder {
        SearchTextBuilder {
            budget,
            compressor: zstd::bulk::Compressor::new(LEVEL).ok(),
            raw: Vec::with_capacity(BLOCK_BYTES + (BLOCK_BYTES >> 2)),
            ends: Vec::new(),
            blocks: Vec::new(),
            records: 0,
            first_in_block: 0,
            compressed_bytes: 0,
        }
    }

    /// The next record's text (lower-cased).
    pub(crate) fn push(&mut self, text: &str) {
        self.records += 1;
        if self.compressor.is_none() {
            return;
        }
        self.raw.extend(text.bytes().filter(|&b| b != SEPARATOR));
        self.ends.push(self.raw.len() as u32);
        self.raw.push(SEPARATOR);
        if self.raw.len() >= BLOCK_BYTES {
            self.seal();
        }
    }

    /// Compresses the open block; gives the copy up past the budget.
    fn seal(&mut self) {
        let Some(compressor) = self.compressor.as_mut() else {
            return;
        };
        if self.ends.is_empty() {
            return;
        }
        let compressed = match compressor.compress(&self.raw) {
            Ok(c) => c,
            Err(_) => return self.give_up(),
        };
        self.compressed_bytes += compressed.len();
        if self.compressed_bytes > self.budget {
            return self.give_up();
        }
        let rows = (self.first_in_block..self.records).collect();
        self.blocks.push(Block {
            rows,
            ends: std::mem::take(&mut self.ends),
            raw_len: self.raw.len(),
            compressed,
        });
        self.raw.clear();
        self.first_in_block = self.records;
    }

    fn give_up(&mut self) {
        self.compressor = None;
        self.blocks = Vec::new();
        self.raw = Vec::new();
        self.ends = Vec::new();
    }

    /// The copy, its records renumbered by `placed` (record in file order →
    /// row in the index); `None` if it went past its budget.
    pub(crate) fn finish(mut self, placed: &[u32]) -> Option<SearchText> {
        self.seal();
        self.compressor.as_ref()?;
        for block in &mut self.blocks {
            for row in &mut block.rows {
                *row = placed[*row as usize];
            }
            block.compressed.shrink_to_fit();
        }
        Some(SearchText {
            blocks: self.blocks,
        })
    }
}

impl SearchText {
    /// Of the rows `candidates` (ascending, of an index of `rows` rows), those
    /// whose text holds `needle` (lower-cased), ascending. The blocks are
    /// shared between two threads.
    pub(crate) fn find(&self, needle: &str, candidates: &[usize], rows: usize) -> Vec<usize> {
        let needle: Vec<u8> = needle.bytes().filter(|&b| b != SEPARATOR).collect();
        if needle.is_empty() || candidates.is_empty() {
            return candidates.to_vec();
        }
        let all = candidates.len() == rows;
        let mut wanted = vec![false; if all { 0 } else { rows }];
        for &n in candidates.iter().filter(|_| !all) {
            wanted[n] = true;
        }
        let wanted = |row: u32| row != u32::MAX && (all || wanted[row as usize]);
        let finder = memchr::memmem::Finder::new(&needle);
        let half = self.blocks.len().div_ceil(2).max(1);
        let mut found: Vec<usize> = std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .blocks
                .chunks(half)
                .map(|blocks| {
                    let (finder, wanted) = (&finder, &wanted);
                    scope.spawn(move || {
                        let mut decompressor = zstd::bulk::Decompressor::new().ok();
                        let mut raw = Vec::new();
                        let mut hits = Vec::new();
                        for block in blocks {
                            raw.clear();
                            raw.reserve(block.raw_len);
                            let Some(d) = decompressor.as_mut() else {
                                break;
                            };
                            if d.decompress_to_buffer(&block.compressed, &mut raw).is_err() {
                                continue;
                            }
                            let mut from = 0;
                            while let Some(at) = finder.find(&raw[from..]) {
                                let record =
                                    block.ends.partition_point(|&e| (e as usize) < from + at);
                                if wanted(block.rows[record]) {
                                    hits.push(block.rows[record] as usize);
                                }
                                // On to the next record: one hit per record.
                                from = block.ends[record] as usize + 1;
                                if from >= raw.len() {
                                    break;
                                }
                            }
                        }
                        hits
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        found.sort_unstable();
        found.dedup();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(records: &[&str], placed: &[u32]) -> SearchText {
        let mut builder = SearchTextBuilder::new(BUDGET_BYTES);
        for r in records {
            builder.push(r);
        }
        builder.finish(placed).unwrap()
    }

    #[test]
    fn finds_each_record_once_and_only_the_candidates() {
        let t = text(&["abc abc", "xyz", "zabcz", "ab", "c"], &[0, 1, 2, 3, 4]);
        assert_eq!(t.find("abc", &[0, 1, 2, 3, 4], 5), [0, 2]);
        assert_eq!(t.find("abc", &[1, 2], 5), [2]);
        // A needle never spans two records.
        assert_eq!(t.find("abc", &[3, 4], 5), Vec::<usize>::new());
        assert_eq!(t.find("bc\0c", &[0, 1, 2, 3, 4], 5), Vec::<usize>::new());
    }

    #[test]
    fn replaced_records_are_not_found_and_rows_follow_the_index() {
        // The second record was replaced; the third is row 0 of the index.
        let t = text(&["one", "needle", "needle too"], &[1, u32::MAX, 0]);
        assert_eq!(t.find("needle", &[0, 1], 2), [0]);
    }

    #[test]
    fn many_blocks_are_searched_by_both_threads() {
        let filler = "x".repeat(300_000);
        let records: Vec<String> = (0..20)
            .map(|i| format!("{filler} record-{i:02} {filler}"))
            .collect();
        let mut builder = SearchTextBuilder::new(BUDGET_BYTES);
        for r in &records {
            builder.push(r);
        }
        let placed: Vec<u32> = (0..20).collect();
        let t = builder.finish(&placed).unwrap();
        assert!(t.blocks.len() >= 4, "{} blocks", t.blocks.len());
        let all: Vec<usize> = (0..20).collect();
        assert_eq!(t.find("record-07", &all, 20), [7]);
        assert_eq!(t.find("record-1", &all, 20), (10..20).collect::<Vec<_>>());
        // Past its budget the copy is given up.
        let mut builder = SearchTextBuilder::new(1 << 10);
        for r in &records {
            builder.push(r);
        }
        assert!(builder.finish(&placed).is_none());
    }
}
