//! MUPDATE capability banner (`protocol::mupdate::{Banner, BannerBuilder}`): a banner decoded
//! from arbitrary bytes must encode and decode back equal; feeding a `ResponseReader`'s output
//! to a `BannerBuilder` by hand must agree with `Banner::decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::mupdate::{Banner, BannerBuilder, ResponseError, ResponseReader};

fn by_hand(data: &[u8]) -> Result<Banner, ResponseError> {
    let mut reader = ResponseReader::default();
    reader.enqueue(data);
    let mut builder = BannerBuilder::default();
    while let Some(r) = reader.next() {
        if let Some(b) = builder.push(r?)? {
            return Ok(b);
        }
    }
    Err(ResponseError::Incomplete)
}

fuzz_target!(|data: &[u8]| {
    let decoded = Banner::decode(data);
    assert_eq!(decoded, by_hand(data));
    if let Ok(b) = decoded {
        let _ = (b.offers_deflate(), b.is_master());
        let wire = b.to_bytes();
        assert_eq!(
            Banner::decode(&wire).as_ref(),
            Ok(&b),
            "round trip via {:?}",
            String::from_utf8_lossy(&wire)
        );
    }
});
