//! The master with real processes: in-process through `Supervisor`, and the `master` binary.
//! Wrapped in `mod master` so `cargo test master::` selects them.

mod master {
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;
    use std::time::{Duration, Instant};

    use daemons::master::status::{read_status, tail_log, ServiceStatus, State};
    use daemons::master::{Backoff, Options, Supervisor};
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new(cyrus_conf: &str) -> Fixture {
            let f = Fixture {
                dir: tempfile::tempdir().unwrap(),
            };
            std::fs::create_dir(f.path("bin")).unwrap();
            std::fs::write(
                f.imapd_conf(),
                format!("configdirectory: {}\n", f.configdir().display()),
            )
            .unwrap();
            f.write_cyrus_conf(cyrus_conf);
            f
        }

        fn path(&self, p: &str) -> PathBuf {
            self.dir.path().join(p)
        }

        fn configdir(&self) -> PathBuf {
            self.path("conf")
        }

        fn imapd_conf(&self) -> PathBuf {
            self.path("imapd.conf")
        }

        fn cyrus_conf(&self) -> PathBuf {
            self.path("cyrus.conf")
        }

        /// Writes cyrus.conf with `{dir}` standing for the fixture's directory.
        fn write_cyrus_conf(&self, text: &str) {
            let text = text.replace("{dir}", &self.dir.path().display().to_string());
            std::fs::write(self.cyrus_conf(), text).unwrap();
        }

        fn script(&self, name: &str, body: &str) -> PathBuf {
            let p = self.path(name);
            std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
            p
        }

        fn options(&self) -> Options {
            let mut o = Options::new(self.imapd_conf(), self.cyrus_conf());
            o.bin_dir = Some(self.path("bin"));
            o.backoff = Backoff {
                initial: Duration::from_millis(300),
                max: Duration::from_secs(1),
                reset_after: Duration::from_secs(60),
            };
            o.stop_grace = Duration::from_secs(5);
            o.reload_on_sighup = false;
            o
        }
    }

    async fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn pid_of(services: &[ServiceStatus], name: &str) -> Option<u32> {
        services
            .iter()
            .find(|s| s.name == name && s.state == State::Running)
            .and_then(|s| s.pid)
    }

    fn signal(pid: u32, sig: Signal) {
        kill(Pid::from_raw(i32::try_from(pid).unwrap()), sig).unwrap();
    }

    fn alive(pid: u32) -> bool {
        kill(Pid::from_raw(i32::try_from(pid).unwrap()), None).is_ok()
    }

    #[tokio::test]
    async fn start_runs_first_then_services_start_with_their_arguments_and_restart() {
        let f = Fixture::new(
            "START {\n\
               mk      cmd=\"/usr/bin/touch {dir}/started\"\n\
               fails   cmd=\"/bin/false\"\n\
               missing cmd=\"ctl_mboxlist -m\"\n\
             }\n\
             SERVICES {\n\
               svc  cmd=\"{dir}/svc.sh {dir}/started\" listen=9999 prefork=3\n\
               imap cmd=\"/usr/cyrus/bin/imapd -x\" listen=\"127.0.0.1:10143\" maxchild=7\n\
               pop3 cmd=\"pop3d\" listen=\"pop3\"\n\
             }\n\
             EVENTS {\n\
               once cmd=\"/usr/bin/touch {dir}/event-ran\" period=0\n\
             }\n",
        );
        f.script(
            "svc.sh",
            "if [ -e \"$1\" ]; then echo 'start ran first'; fi\nexec sleep 1000",
        );
        f.script(
            "bin/imapd",
            "echo \"args: $*\"\necho \"service: $CYRUS_SERVICE\"\nexec sleep 1000",
        );
        let sup = Supervisor::start(f.options()).await.unwrap();
        let conf = f.configdir();

        // pop3d has no binary: skipped, not fatal.
        let names: Vec<String> = sup.services().into_iter().map(|s| s.name).collect();
        assert_eq!(names, ["svc", "imap"]);
        let svc_pid = wait_for("svc up", || pid_of(&sup.services(), "svc")).await;
        wait_for("svc's log", || {
            tail_log(&conf, "svc", 10)
                .unwrap()
                .contains(&"start ran first".to_owned())
                .then_some(())
        })
        .await;
        let expected = format!(
            "args: -x -C {} --listen 127.0.0.1:10143 --max-connections 7",
            f.imapd_conf().display()
        );
        wait_for("imap's arguments in its log", || {
            let log = tail_log(&conf, "imap", 10).unwrap();
            (log.contains(&expected) && log.contains(&"service: imap".to_owned())).then_some(())
        })
        .await;
        wait_for("the period=0 event", || {
            f.path("event-ran").exists().then_some(())
        })
        .await;

        // Killed: restarted after the back-off, and the status file says so.
        signal(svc_pid, Signal::SIGKILL);
        let new_pid = wait_for("svc restarted", || {
            let st = read_status(&conf).ok()?;
            let s = st.services.iter().find(|s| s.name == "svc")?;
            (s.restarts == 1 && s.state == State::Running && s.pid != Some(svc_pid))
                .then_some(s.pid)
                .flatten()
        })
        .await;
        let svc = sup
            .services()
            .into_iter()
            .find(|s| s.name == "svc")
            .unwrap();
        assert_eq!(svc.last_exit.as_deref(), Some("signal 9"));
        assert_eq!(svc.pid, Some(new_pid));

        let imap_pid = pid_of(&sup.services(), "imap").unwrap();
        sup.stop().await;
        assert!(!alive(new_pid) && !alive(imap_pid));
        let st = read_status(&conf).unwrap();
        assert!(!st.running);
        assert!(st
            .services
            .iter()
            .all(|s| s.state == State::Stopped && s.pid.is_none()));
    }

    #[tokio::test]
    async fn reload_starts_new_stops_removed_restarts_changed_and_keeps_the_rest() {
        let f = Fixture::new(
            "SERVICES {\n\
               a cmd=\"/usr/bin/sleep 1000\" listen=1\n\
               b cmd=\"/usr/bin/sleep 1001\" listen=2\n\
               d cmd=\"/usr/bin/sleep 1002\" listen=4\n\
             }\n",
        );
        let sup = Supervisor::start(f.options()).await.unwrap();
        let before = wait_for("all up", || {
            let s = sup.services();
            Some((pid_of(&s, "a")?, pid_of(&s, "b")?, pid_of(&s, "d")?))
        })
        .await;
        f.write_cyrus_conf(
            "SERVICES {\n\
               c cmd=\"/usr/bin/sleep 1003\" listen=3\n\
               a cmd=\"/usr/bin/sleep 1000\" listen=1 prefork=9\n\
               d cmd=\"/usr/bin/sleep 1004\" listen=4\n\
             }\n",
        );
        let summary = sup.reload().await.unwrap();
        assert_eq!(summary.started, ["c"]);
        assert_eq!(summary.stopped, ["b"]);
        assert_eq!(summary.restarted, ["d"]);
        assert_eq!(summary.unchanged, ["a"]);
        let (a, c, d) = wait_for("new set up", || {
            let s = sup.services();
            Some((pid_of(&s, "a")?, pid_of(&s, "c")?, pid_of(&s, "d")?))
        })
        .await;
        assert_eq!(a, before.0, "an unchanged service keeps running");
        assert_ne!(d, before.2, "a changed service is restarted");
        assert!(!alive(before.1), "a removed service is stopped");
        assert!(!alive(before.2));
        let names: Vec<String> = read_status(&f.configdir())
            .unwrap()
            .services
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["c", "a", "d"]);

        // A broken file changes nothing.
        f.write_cyrus_conf("SERVICES {\n");
        assert!(sup.reload().await.is_err());
        assert_eq!(pid_of(&sup.services(), "c"), Some(c));
        sup.stop().await;
        assert!(!alive(a) && !alive(c) && !alive(d));
    }

    #[tokio::test]
    async fn stop_kills_a_child_that_ignores_sigterm_after_the_grace_period() {
        let f = Fixture::new("DAEMON {\n stubborn cmd=\"{dir}/stubborn.sh\"\n}\n");
        f.script(
            "stubborn.sh",
            "trap '' TERM\necho ready\nwhile :; do sleep 0.1; done",
        );
        let mut options = f.options();
        options.stop_grace = Duration::from_millis(500);
        let sup = Supervisor::start(options).await.unwrap();
        let pid = wait_for("stubborn up", || pid_of(&sup.services(), "stubborn")).await;
        wait_for("trap installed", || {
            (!tail_log(&f.configdir(), "stubborn", 1).unwrap().is_empty()).then_some(())
        })
        .await;
        let t = Instant::now();
        sup.stop().await;
        assert!(t.elapsed() >= Duration::from_millis(500));
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(!alive(pid));
        let s = &sup.services()[0];
        assert_eq!(s.last_exit.as_deref(), Some("signal 9"));
        assert_eq!(s.kind, daemons::master::plan::EntryKind::Daemon);
    }

    #[tokio::test]
    async fn master_binary_restarts_reloads_on_sighup_and_stops_on_sigterm() {
        let f = Fixture::new(
            "START {\n mk cmd=\"/usr/bin/touch {dir}/started\"\n}\n\
             SERVICES {\n\
               one cmd=\"/usr/bin/sleep 1000\" listen=1\n\
               two cmd=\"/usr/bin/sleep 1001\" listen=2\n\
             }\n",
        );
        let conf = f.configdir();
        let stderr = std::fs::File::create(f.path("master.err")).unwrap();
        let mut master = std::process::Command::new(env!("CARGO_BIN_EXE_master"))
            .arg("-C")
            .arg(f.imapd_conf())
            .arg("-M")
            .arg(f.cyrus_conf())
            .arg("-p")
            .arg(f.path("master.pid"))
            .arg("-d")
            .stdin(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let running = |name: &str| -> Option<u32> {
            let st = read_status(&conf).ok()?;
            pid_of(&st.services, name)
        };
        let (one, two) = wait_for("both services up", || {
            Some((running("one")?, running("two")?))
        })
        .await;
        assert!(f.path("started").exists(), "START ran before the services");
        let pid_text = std::fs::read_to_string(f.path("master.pid")).unwrap();
        assert_eq!(pid_text.trim(), master.id().to_string());
        assert_eq!(read_status(&conf).unwrap().master_pid, master.id());

        signal(one, Signal::SIGKILL);
        let one = wait_for("one restarted", || {
            let st = read_status(&conf).ok()?;
            let s = st.services.iter().find(|s| s.name == "one")?;
            (s.restarts == 1 && s.state == State::Running)
                .then_some(s.pid)
                .flatten()
        })
        .await;
        let err = std::fs::read_to_string(f.path("master.err")).unwrap();
        assert!(
            err.contains("service one (pid ")
                && err.contains("exited with signal 9; restarting in 1s"),
            "{err}"
        );

        f.write_cyrus_conf(
            "SERVICES {\n\
               one cmd=\"/usr/bin/sleep 1000\" listen=1\n\
               three cmd=\"/usr/bin/sleep 1003\" listen=3\n\
             }\n",
        );
        signal(master.id(), Signal::SIGHUP);
        let three = wait_for("three started, two gone", || {
            let st = read_status(&conf).ok()?;
            let three = pid_of(&st.services, "three")?;
            st.services.iter().all(|s| s.name != "two").then_some(three)
        })
        .await;
        wait_for("two's process gone", || (!alive(two)).then_some(())).await;
        assert_eq!(
            running("one"),
            Some(one),
            "one left running across the reload"
        );

        signal(master.id(), Signal::SIGTERM);
        let status = wait_for("master exit", || master.try_wait().unwrap()).await;
        assert!(status.success(), "{status:?}");
        assert!(!f.path("master.pid").exists());
        assert!(!alive(one) && !alive(three));
        assert!(!read_status(&conf).unwrap().running);
    }

    #[test]
    fn master_binary_reports_a_bad_configuration_and_fails() {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_master"))
            .arg("-C")
            .arg(dir.path().join("nope.conf"))
            .arg("-M")
            .arg(dir.path().join("cyrus.conf"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("master: ") && err.contains("nope.conf"),
            "{err}"
        );
    }
}
