//! `uniffi-bindgen`, pinned to the UniFFI version sdk-mobile is built with.
//! Used by `sdk-mobile/scripts/gen-bindings` in library mode.

fn main() {
    uniffi::uniffi_bindgen_main()
}
