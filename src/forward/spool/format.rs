//! The spool's bytes on disk: segment files of framed, checksummed records, and the ledger.
//!
//! A segment file `{id:020}.seg` starts with a 16-byte header: the magic `JFSPOOL1`, the body
//! format (`p` protobuf, `j` JSON) and 7 zero bytes. Records follow back to back:
//!
//! | bytes | what |
//! |---|---|
//! | 4 | body length, little-endian |
//! | 4 | CRC-32 of the next 16 bytes and the body |
//! | 8 | the run that received it (the idempotency key's first half) |
//! | 8 | its sequence number (the second half) |
//! | n | the body, as POSTed |
//!
//! The ledger `ledger` holds where delivery stands: the magic `JFLEDGR1`, a segment id, an offset
//! in it (both little-endian `u64`) and a CRC-32 of the 24 bytes before it. Everything before that
//! position has been delivered.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::super::BodyFormat;

/// The segment header's length.
pub(crate) const SEGMENT_HEADER: u64 = 16;
/// A record's length besides its body.
pub(crate) const RECORD_HEADER: u64 = 24;
const SEGMENT_MAGIC: &[u8; 8] = b"JFSPOOL1";
const LEDGER_MAGIC: &[u8; 8] = b"JFLEDGR1";
const LEDGER_LEN: usize = 28;
/// The largest body a record may hold (the length field could say more; a corrupt length must not
/// make recovery allocate gigabytes).
pub(crate) const MAX_BODY: u64 = 64 << 20;

/// Where a segment lives.
pub(crate) fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

/// The segment id in a file name, if it is a segment's.
pub(crate) fn segment_id(name: &str) -> Option<u64> {
    let id = name.strip_suffix(".seg")?;
    (id.len() == 20).then(|| id.parse().ok()).flatten()
}

/// Where the ledger lives.
pub(crate) fn ledger_path(dir: &Path) -> PathBuf {
    dir.join("ledger")
}

fn format_byte(format: BodyFormat) -> u8 {
    match format {
        BodyFormat::Protobuf => b'p',
        BodyFormat::Json => b'j',
    }
}

/// A new segment's header.
pub(crate) fn segment_header(format: BodyFormat) -> [u8; SEGMENT_HEADER as usize] {
    let mut header = [0; SEGMENT_HEADER as usize];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8] = format_byte(format);
    header
}

/// Checks a segment's header: ours, and of `format`.
pub(crate) fn check_header(path: &Path, header: &[u8], format: BodyFormat) -> io::Result<()> {
    if header.len() < SEGMENT_HEADER as usize || &header[..8] != SEGMENT_MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a spool segment (no JFSPOOL1 header)",
                path.display()
            ),
        ));
    }
    if header[8] != format_byte(format) {
        let held = if header[8] == b'j' { "json" } else { "pb" };
        return Err(io::Error::other(format!(
            "the spool {} holds {held} bodies; forward them with the same format",
            path.parent().unwrap_or(path).display()
        )));
    }
    Ok(())
}

fn checksum(run: u64, seq: u64, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&run.to_le_bytes());
    hasher.update(&seq.to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// The record of `body`, framed.
pub(crate) fn record(run: u64, seq: u64, body: &[u8]) -> Vec<u8> {
    let mut record = Vec::with_capacity(RECORD_HEADER as usize + body.len());
    record.extend_from_slice(&(body.len() as u32).to_le_bytes());
    record.extend_from_slice(&checksum(run, seq, body).to_le_bytes());
    record.extend_from_slice(&run.to_le_bytes());
    record.extend_from_slice(&seq.to_le_bytes());
    record.extend_from_slice(body);
    record
}

/// A record read back.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) run: u64,
    pub(crate) seq: u64,
    pub(crate) body: Vec<u8>,
}

/// Why the bytes at an offset are not a record.
#[derive(Debug)]
pub(crate) enum Bad {
    /// The file ends inside the record: a write cut short.
    Short,
    /// The length is impossible, or the checksum does not match.
    Damaged,
}

/// Reads the record at the reader's position. `Ok(None)` at the end of the file.
pub(crate) fn read_record(reader: &mut impl Read) -> io::Result<Option<Result<Record, Bad>>> {
    let mut header = [0u8; RECORD_HEADER as usize];
    let got = read_full(reader, &mut header)?;
    if got == 0 {
        return Ok(None);
    }
    if got < header.len() {
        return Ok(Some(Err(Bad::Short)));
    }
    let len = u64::from(u32::from_le_bytes(
        header[0..4].try_into().unwrap_or_default(),
    ));
    let sum = u32::from_le_bytes(header[4..8].try_into().unwrap_or_default());
    let run = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
    let seq = u64::from_le_bytes(header[16..24].try_into().unwrap_or_default());
    if len > MAX_BODY {
        return Ok(Some(Err(Bad::Damaged)));
    }
    let mut body = vec![0; len as usize];
    if read_full(reader, &mut body)? < body.len() {
        return Ok(Some(Err(Bad::Short)));
    }
    if checksum(run, seq, &body) != sum {
        return Ok(Some(Err(Bad::Damaged)));
    }
    Ok(Some(Ok(Record { run, seq, body })))
}

/// Reads until `buf` is full or the end of the file; how much it read.
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(filled)
}

/// Reads the record at `offset` of `file` whole, checking its checksum.
pub(crate) fn read_at(file: &mut File, path: &Path, offset: u64) -> io::Result<Record> {
    file.seek(SeekFrom::Start(offset))?;
    match read_record(&mut io::BufReader::new(file))? {
        Some(Ok(record)) => Ok(record),
        None | Some(Err(Bad::Short)) => Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "{} ends inside the record at offset {offset}",
                path.display()
            ),
        )),
        Some(Err(Bad::Damaged)) => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "the record at offset {offset} of {} does not check out",
                path.display()
            ),
        )),
    }
}

/// Where delivery stands: everything before `offset` of segment `segment` is delivered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Position {
    pub(crate) segment: u64,
    pub(crate) offset: u64,
}

/// The ledger's bytes for `position`.
pub(crate) fn ledger_bytes(position: Position) -> [u8; LEDGER_LEN] {
    let mut bytes = [0; LEDGER_LEN];
    bytes[..8].copy_from_slice(LEDGER_MAGIC);
    bytes[8..16].copy_from_slice(&position.segment.to_le_bytes());
    bytes[16..24].copy_from_slice(&position.offset.to_le_bytes());
    let sum = crc32fast::hash(&bytes[..24]);
    bytes[24..].copy_from_slice(&sum.to_le_bytes());
    bytes
}

/// Reads the ledger: `Ok(None)` if there is none, an error if it is damaged.
pub(crate) fn read_ledger(dir: &Path) -> io::Result<Option<Position>> {
    let path = ledger_path(dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let whole = bytes.len() == LEDGER_LEN
        && &bytes[..8] == LEDGER_MAGIC
        && crc32fast::hash(&bytes[..24]).to_le_bytes() == bytes[24..];
    if !whole {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is damaged", path.display()),
        ));
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
    Ok(Some(Position {
        segment: word(8),
        offset: word(16),
    }))
}

/// Writes the ledger in place (28 bytes: one sector, so a crash leaves the old or the new one).
pub(crate) fn write_ledger(file: &mut File, position: Position) -> io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&ledger_bytes(position))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_reads_back_and_any_flipped_bit_is_caught() {
        let record = record(7, 42, b"hello");
        let read = read_record(&mut record.as_slice())
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(
            (read.run, read.seq, read.body.as_slice()),
            (7, 42, &b"hello"[..])
        );
        for at in 0..record.len() {
            let mut damaged = record.clone();
            damaged[at] ^= 0x10;
            let read = read_record(&mut damaged.as_slice()).unwrap().unwrap();
            assert!(read.is_err(), "a flipped bit at byte {at} went unnoticed");
        }
        for cut in 1..record.len() {
            let read = read_record(&mut &record[..cut]).unwrap().unwrap();
            assert!(matches!(read, Err(Bad::Short)), "cut at {cut}: {read:?}");
        }
        assert!(read_record(&mut &record[..0]).unwrap().is_none());
    }

    #[test]
    fn segment_names_round_trip_and_others_are_not_segments() {
        let path = segment_path(Path::new("/s"), 12);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(segment_id(name), Some(12));
        for other in [
            "ledger",
            ".lock",
            "12.seg",
            "00000000000000000012_1.pb",
            "x.seg",
        ] {
            assert_eq!(segment_id(other), None, "{other}");
        }
    }
}
