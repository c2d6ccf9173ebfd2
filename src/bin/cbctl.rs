//! `cbctl`: the small client people type. All of it is the library's
//! [`clean_backup::cli`]; this is only `main`.

fn main() -> std::process::ExitCode {
    clean_backup::cli::main()
}
