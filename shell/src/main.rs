//! `murder`: the admin shell of a Cyrus murder. See [`murder_shell::app`].
fn main() {
    std::process::exit(murder_shell::app::main());
}
