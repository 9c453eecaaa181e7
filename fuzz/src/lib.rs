//! Helpers shared by the fuzz targets: reading a few control bytes off the front of the
//! fuzzer's input (split points, flags, small limits) before handing the rest to a decoder.
//!
//! Taking parameters from the input, rather than fixing them, lets libFuzzer explore the
//! decoders' limit and chunking paths as well as their grammar.

/// A cursor over the fuzzer's input. Reading past the end yields zeros, so every input is
/// usable whatever its length.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// Wraps the raw fuzzer input.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    /// The next byte, or 0 at the end.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    /// The next two bytes as a little-endian number.
    pub fn u16(&mut self) -> u16 {
        u16::from(self.byte()) | (u16::from(self.byte()) << 8)
    }

    /// A flag from the next byte's low bit.
    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// What is left, consuming the cursor.
    pub fn rest(self) -> &'a [u8] {
        self.data
    }
}

/// A split point in `0..=len` derived from a fuzzer-chosen number.
pub fn split_at(len: usize, chosen: u16) -> usize {
    usize::from(chosen) % (len + 1)
}

/// `data` cut into two chunks at `at` (clamped).
pub fn two_chunks(data: &[u8], at: usize) -> [&[u8]; 2] {
    data.split_at(at.min(data.len())).into()
}

/// Runs `feed` three ways, whole, split in two at `at`, and one byte at a time (for inputs up
/// to `bytewise_max` long, to keep each run fast), and asserts the results agree.
pub fn assert_split_invariant<T, F>(
    data: &[u8],
    at: usize,
    bytewise_max: usize,
    what: &str,
    feed: F,
) where
    T: PartialEq + std::fmt::Debug,
    F: Fn(&[&[u8]]) -> T,
{
    let whole = feed(&[data]);
    let split = feed(&two_chunks(data, at));
    assert_eq!(whole, split, "{what}: whole vs split at {at}");
    if data.len() <= bytewise_max {
        let bytes: Vec<&[u8]> = data.chunks(1).collect();
        let bytewise = feed(&bytes);
        assert_eq!(whole, bytewise, "{what}: whole vs one byte at a time");
    }
}
