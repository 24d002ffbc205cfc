//! `LayoutDescriptor::decode` on bytes another process stored in a typed
//! segment: it must return `Ok` or `Err`, never panic; what it accepts must
//! survive every other use (hash, pretty printing, comparison) and encode
//! back to a descriptor that decodes to the same value and hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shm_comm::LayoutDescriptor;

fuzz_target!(|data: &[u8]| {
    let Ok(d) = LayoutDescriptor::decode(data) else {
        return;
    };
    let _ = d.hash();
    let _ = d.pretty();
    let encoded = d.encode();
    let back = LayoutDescriptor::decode(&encoded).expect("an encoded descriptor decodes");
    assert_eq!(back, d);
    assert_eq!(back.hash(), d.hash());
    assert_eq!(d.first_difference(&back), None);
    // The decoder consumed every byte, so re-encoding gives the input back.
    assert_eq!(encoded, data);
});
