// build.rs: links the static libmicrovm archive (and the system libraries it needs).
//
// The archive is looked for in $MICROVM_LIB_DIR, else in the checkout's
// build/ directory (`make` in the repository root builds build/libmicrovm.a).
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=MICROVM_LIB_DIR");
    println!("cargo:rerun-if-changed=build.rs");
    let dir = match env::var_os("MICROVM_LIB_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => {
            let manifest =
                PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
            manifest.join("..").join("..").join("build")
        }
    };
    let archive = dir.join("libmicrovm.a");
    println!("cargo:rerun-if-changed={}", archive.display());
    if !archive.is_file() {
        panic!(
            "{} not found: run `make` in the libmicrovm checkout, or set MICROVM_LIB_DIR \
             to the directory holding libmicrovm.a",
            archive.display()
        );
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static=microvm");
    println!("cargo:rustc-link-lib=dylib=uring");
    println!("cargo:rustc-link-lib=dylib=fdt");
    println!("cargo:rustc-link-lib=dylib=pthread");
}
