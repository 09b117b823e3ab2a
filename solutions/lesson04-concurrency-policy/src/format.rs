//! The snapshot file: a header that says how long the data is and what its checksum
//! must be, then the data. A file that is shorter, longer or different from what its
//! header promises is refused before a single entry is trusted.
//!
//! ```text
//! offset  size  field
//!      0     8  MAGIC: "KVSNAP" and the format version, 0x00 0x01
//!      8     8  body length in bytes, u64 little-endian
//!     16     4  CRC-32 of the body, u32 little-endian
//!     20     …  body: global_seq u64, entry count u64, then each entry in key order:
//!               key length u32, key bytes (UTF-8), version u64, seq u64,
//!               1 and value length u32 and value bytes (a live value), or 0 (a tombstone)
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::io;

use state::{Entry, Violation};

// ANCHOR: header
/// The first bytes of every snapshot: a name and the format's version.
pub const MAGIC: [u8; 8] = *b"KVSNAP\x00\x01";
/// Magic, body length, checksum.
pub const HEADER_LEN: usize = 8 + 8 + 4;
// ANCHOR_END: header

// ANCHOR: snapshot_error
/// Why a snapshot could not be saved or loaded. Everything but `Io` means the file
/// itself is wrong, and nothing of it was loaded.
#[derive(Debug)]
pub enum SnapshotError {
    /// The file system said no (missing file, no permission, disk full).
    Io(io::Error),
    /// The file ends before its header says it should: a write that never finished.
    Truncated { expected: u64, found: u64 },
    /// The file does not start with [`MAGIC`]: not a snapshot, or another version.
    NotASnapshot,
    /// The file goes on after the length its header gives.
    TrailingBytes { expected: u64, found: u64 },
    /// The body is not the one that was written: a flipped bit, a torn page.
    ChecksumMismatch { stored: u32, computed: u32 },
    /// The checksum matches but the body does not parse: the writer had a bug.
    Malformed(String),
    /// The body parses but is not a state the store can reach.
    Invalid(Violation),
}
// ANCHOR_END: snapshot_error

impl fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotError::Io(error) => write!(f, "cannot read or write the snapshot: {error}"),
            SnapshotError::Truncated { expected, found } => write!(
                f,
                "torn snapshot: the file should hold {expected} bytes but holds only {found}"
            ),
            SnapshotError::NotASnapshot => {
                write!(f, "not a snapshot: the file does not start with KVSNAP v1")
            }
            SnapshotError::TrailingBytes { expected, found } => write!(
                f,
                "damaged snapshot: the file should hold {expected} bytes but holds {found}"
            ),
            SnapshotError::ChecksumMismatch { stored, computed } => write!(
                f,
                "corrupted snapshot: its checksum is {stored:#010x} but its data sums to {computed:#010x}"
            ),
            SnapshotError::Malformed(what) => write!(f, "malformed snapshot: {what}"),
            SnapshotError::Invalid(violation) => {
                write!(f, "impossible snapshot: {violation}")
            }
        }
    }
}

impl std::error::Error for SnapshotError {}

impl From<io::Error> for SnapshotError {
    fn from(error: io::Error) -> Self {
        SnapshotError::Io(error)
    }
}

// ANCHOR: crc32
/// CRC-32 (the one zip, PNG and Ethernet use). It catches every single flipped bit
/// and every burst of damage up to 32 bits long, which a plain sum of the bytes
/// does not: a sum misses two bytes swapped, or one raised as another is lowered.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0, |crc, &byte| {
        CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// The remainder of every byte value, computed once at compile time.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};
// ANCHOR_END: crc32

// ANCHOR: encode
/// The snapshot file for `state`: header, then body.
pub fn encode(state: &state::Store) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(state.global_seq().to_le_bytes());
    body.extend((state.entries().len() as u64).to_le_bytes());
    for (key, entry) in state.entries() {
        put_bytes(&mut body, key.as_bytes());
        body.extend(entry.version.to_le_bytes());
        body.extend(entry.seq.to_le_bytes());
        match &entry.value {
            Some(value) => {
                body.push(1);
                put_bytes(&mut body, value.as_bytes());
            }
            None => body.push(0),
        }
    }
    let mut file = Vec::with_capacity(HEADER_LEN + body.len());
    file.extend(MAGIC);
    file.extend((body.len() as u64).to_le_bytes());
    file.extend(crc32(&body).to_le_bytes());
    file.extend(body);
    file
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Keys and values are far below 4 GiB: `validate` caps them.
    out.extend((bytes.len() as u32).to_le_bytes());
    out.extend(bytes);
}
// ANCHOR_END: encode

// ANCHOR: decode
/// Reads a snapshot file back, refusing it unless every check passes, in this order:
/// long enough for a header, [`MAGIC`], exactly the length the header gives, the
/// checksum, a body that parses to the end, and lesson 01's invariants.
pub fn decode(bytes: &[u8]) -> Result<state::Store, SnapshotError> {
    let found = bytes.len() as u64;
    if bytes.len() < HEADER_LEN {
        return Err(SnapshotError::Truncated {
            expected: HEADER_LEN as u64,
            found,
        });
    }
    let (header, body) = bytes.split_at(HEADER_LEN);
    if header[..8] != MAGIC {
        return Err(SnapshotError::NotASnapshot);
    }
    let body_len = u64::from_le_bytes(header[8..16].try_into().expect("8 bytes"));
    // A flipped high bit can make the length absurd; saturate instead of overflowing.
    let expected = body_len.saturating_add(HEADER_LEN as u64);
    if found < expected {
        return Err(SnapshotError::Truncated { expected, found });
    }
    if found > expected {
        return Err(SnapshotError::TrailingBytes { expected, found });
    }
    let stored = u32::from_le_bytes(header[16..20].try_into().expect("4 bytes"));
    let computed = crc32(body);
    if stored != computed {
        return Err(SnapshotError::ChecksumMismatch { stored, computed });
    }
    // Only now is the body trusted enough to parse.
    let state = parse_body(body).map_err(SnapshotError::Malformed)?;
    state.check_invariants().map_err(SnapshotError::Invalid)?;
    Ok(state)
}
// ANCHOR_END: decode

/// Parses a body that has passed every check of the header: the fields in the order
/// [`encode`] writes them, to the last byte. The error names what did not parse.
pub fn parse_body(body: &[u8]) -> Result<state::Store, String> {
    let mut input = Reader { rest: body };
    let global_seq = input.u64("the global sequence")?;
    let count = input.u64("the entry count")?;
    let mut entries = BTreeMap::new();
    for n in 1..=count {
        let key = input.text(|| format!("the key of entry {n}"))?;
        let version = input.u64("a version")?;
        let seq = input.u64("a sequence number")?;
        let value = match input.take(1, "a value marker")?[0] {
            0 => None,
            1 => Some(input.text(|| format!("the value of {key:?}"))?),
            other => {
                return Err(format!(
                    "entry {key:?} has value marker {other}, not 0 or 1"
                ));
            }
        };
        if entries
            .insert(
                key.clone(),
                Entry {
                    value,
                    version,
                    seq,
                },
            )
            .is_some()
        {
            return Err(format!("key {key:?} appears twice"));
        }
    }
    if !input.rest.is_empty() {
        return Err(format!("{} bytes follow the last entry", input.rest.len()));
    }
    Ok(state::Store::from_parts(entries, global_seq))
}

/// Takes fields off the front of the body, naming what is missing when it runs out.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        if self.rest.len() < n {
            return Err(format!("the body ends inside {what}"));
        }
        let (taken, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(taken)
    }

    fn u64(&mut self, what: &str) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().expect("8 bytes"),
        ))
    }

    fn text(&mut self, what: impl Fn() -> String) -> Result<String, String> {
        let len = u32::from_le_bytes(self.take(4, &what())?.try_into().expect("4 bytes"));
        let bytes = self.take(len as usize, &what())?;
        String::from_utf8(bytes.to_vec()).map_err(|_| format!("{} is not UTF-8", what()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> state::Store {
        let (store, _) = state::replay(&[
            state::Command::set("apple", "red"),
            state::Command::set("pear", "zürich ☃\n\"quoted\""),
            state::Command::del("apple"),
            state::Command::set("fig", ""),
        ]);
        store
    }

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn a_snapshot_reads_back_as_the_same_state() {
        let state = sample();
        assert_eq!(decode(&encode(&state)).unwrap(), state);
        let empty = state::Store::new();
        assert_eq!(decode(&encode(&empty)).unwrap(), empty);
    }

    #[test]
    fn every_cut_and_every_flipped_bit_is_refused() {
        let bytes = encode(&sample());
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "cut at {len} was loaded");
        }
        for bit in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&damaged).is_err(), "bit {bit} flipped was loaded");
        }
    }

    #[test]
    fn each_kind_of_damage_gets_its_own_error() {
        let bytes = encode(&sample());
        let len = bytes.len() as u64;
        assert!(matches!(
            decode(&bytes[..10]),
            Err(SnapshotError::Truncated {
                expected: 20,
                found: 10
            })
        ));
        assert!(
            matches!(decode(&bytes[..bytes.len() - 1]), Err(SnapshotError::Truncated { expected, found }) if expected == len && found == len - 1)
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            decode(&longer),
            Err(SnapshotError::TrailingBytes { .. })
        ));
        let mut renamed = bytes.clone();
        renamed[0] = b'X';
        assert!(matches!(decode(&renamed), Err(SnapshotError::NotASnapshot)));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 0x40;
        assert!(matches!(
            decode(&flipped),
            Err(SnapshotError::ChecksumMismatch { .. })
        ));
        let impossible = state::Store::from_parts(sample().entries().clone(), 9);
        assert!(matches!(
            decode(&encode(&impossible)),
            Err(SnapshotError::Invalid(_))
        ));
    }
}
