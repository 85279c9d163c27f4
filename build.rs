//! Compiles `proto/server_notifications.proto` with `protox` (pure Rust), so building this crate
//! never needs a system `protoc`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/server_notifications.proto");
    let descriptors = protox::compile(["server_notifications.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
