//! The closed-loop users executor in the scenario format: what parses, what it resolves to, and
//! the located errors for what does not.

use std::path::Path;

use scalebench_core::Plan;
use scalebench_core::dist::DurationDist;
use scalebench_core::users::Executor;

/// A scenario with closed-loop users; `{users}` is replaced by the `[traffic.users]` table.
const USERS: &str = r#"duration = "30s"
[slo]
latency = "500ms"
[traffic]
executor = "users"
timeout = "5s"
{users}
[service]
time = "100ms"
[[setup]]
name = "f"
billing = "replica"
price_per_replica_hour = 1.0
[setup.fixed]
replicas = 2
"#;

fn parse(users: &str) -> Result<Plan, String> {
    let src = USERS.replace("{users}", users);
    Plan::parse(Path::new("u.toml"), &src).map_err(|e| e.to_string())
}

fn err(users: &str) -> String {
    match parse(users) {
        Ok(_) => panic!("expected an error for {users}"),
        Err(e) => e,
    }
}

#[test]
fn users_parse_with_their_defaults() {
    let p = parse("[traffic.users]\ncount = 8\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.traffic.executor, Executor::Users);
    let u = p
        .traffic
        .closed_loop()
        .unwrap_or_else(|| panic!("no users"));
    assert_eq!(u.count, 8);
    assert_eq!(u.think.mean_secs(), 0.0);
    assert!(u.ramp.is_zero());
    assert!(p.traffic.shapes.is_empty());
}

#[test]
fn think_time_is_a_duration_or_a_distribution_and_ramp_a_duration() {
    let p = parse("[traffic.users]\ncount = 8\nthink = \"250ms\"\nramp = \"10s\"\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let u = p
        .traffic
        .closed_loop()
        .unwrap_or_else(|| panic!("no users"));
    assert_eq!(u.think.mean_secs(), 0.25);
    assert_eq!(u.ramp.as_secs_f64(), 10.0);
    assert_eq!(u.start_of(4).as_secs_f64(), 5.0);
    let p =
        parse("[traffic.users]\ncount = 2\nthink = { dist = \"exponential\", mean = \"2s\" }\n")
            .unwrap_or_else(|e| panic!("{e}"));
    let u = p
        .traffic
        .closed_loop()
        .unwrap_or_else(|| panic!("no users"));
    assert!(matches!(u.think, DurationDist::Exponential { .. }));
}

#[test]
fn the_default_executor_is_open_loop_arrivals() {
    let src = USERS.replace("executor = \"users\"\n", "").replace(
        "{users}",
        "[[traffic.shape]]\nkind = \"steady\"\nrate = 10\n",
    );
    let p = Plan::parse(Path::new("a.toml"), &src).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.traffic.executor, Executor::Arrivals);
    assert!(p.traffic.closed_loop().is_none());
}

#[test]
fn users_without_their_table_are_an_error_located_in_the_traffic_table() {
    let e = err("");
    assert!(
        e.contains("executor = \"users\" needs a [traffic.users] table"),
        "{e}"
    );
    // Located: file, line and column, and the line with a caret under it.
    assert!(e.starts_with("u.toml:"), "{e}");
    assert!(e.contains('^'), "{e}");
}

#[test]
fn invalid_users_are_explained() {
    for (users, message) in [
        (
            "[traffic.users]\ncount = 0\n",
            "traffic.users.count must be between 1 and 100000, found 0",
        ),
        ("[traffic.users]\nthink = \"1s\"\n", "missing field `count`"),
        (
            "[traffic.users]\ncount = 2\nramp = \"30s\"\n",
            "ramp 30s must be shorter than the run's duration",
        ),
        (
            "[traffic.users]\ncount = 2\nthink = \"soon\"\n",
            "expected a duration such as \"250ms\"",
        ),
        (
            "[traffic.users]\ncount = 2\n[[traffic.shape]]\nkind = \"steady\"\nrate = 10\n",
            "remove the [[traffic.shape]] tables",
        ),
    ] {
        let e = err(users);
        assert!(e.contains(message), "{users}: {e}");
        assert!(e.starts_with("u.toml:"), "{users}: {e}");
    }
}

#[test]
fn unknown_keys_in_the_users_table_are_refused_where_they_are() {
    let e = err("[traffic.users]\ncount = 2\nthinking = \"1s\"\n");
    assert!(e.contains("unknown field `thinking`"), "{e}");
    // The line of `thinking` in the file.
    let line = USERS.lines().position(|l| l == "{users}").unwrap_or(0) + 3;
    assert!(e.starts_with(&format!("u.toml:{line}:")), "{e}");
}

#[test]
fn a_users_table_needs_the_users_executor() {
    let src = USERS.replace("executor = \"users\"\n", "").replace(
        "{users}",
        "[traffic.users]\ncount = 2\n[[traffic.shape]]\nkind = \"steady\"\nrate = 10\n",
    );
    let e = Plan::parse(Path::new("a.toml"), &src)
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        e.is_err_and(|e| e.contains("add executor = \"users\" to [traffic]")),
        "a users table with the default executor must be refused"
    );
}

#[test]
fn an_unknown_executor_names_the_known_ones() {
    let src = USERS
        .replace("executor = \"users\"", "executor = \"vus\"")
        .replace("{users}", "[traffic.users]\ncount = 2\n");
    let e = Plan::parse(Path::new("e.toml"), &src)
        .map(|_| ())
        .map_err(|e| e.to_string());
    assert!(
        e.is_err_and(|e| e.contains("unknown variant `vus`") && e.contains("`users`")),
        "an unknown executor must be refused"
    );
}
