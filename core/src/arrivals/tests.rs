use std::path::Path;

use super::*;

fn plan(duration: &str, traffic: &str) -> Plan {
    let src = format!(
        r#"
duration = "{duration}"
seed = 5
[slo]
latency = "1s"
[traffic]
{traffic}
[service]
time = {{ dist = "exponential", mean = "100ms" }}
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "s"
[setup.fixed]
replicas = 10
"#
    );
    match Plan::parse(Path::new("t.toml"), &src) {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

fn times(p: &Plan) -> Vec<f64> {
    ArrivalStream::new(p).map(|a| a.t_ns as f64 / 1e9).collect()
}

const STEADY_100: &str = "[[traffic.shape]]\nkind = \"steady\"\nrate = 100\n";

#[test]
fn same_seed_same_stream_and_other_seed_other_stream() {
    let p = plan("1m", STEADY_100);
    let a: Vec<_> = ArrivalStream::new(&p).collect();
    let b: Vec<_> = ArrivalStream::new(&p).collect();
    assert_eq!(a, b);
    let mut q = p.clone();
    q.seed = 6;
    let c: Vec<_> = ArrivalStream::new(&q).collect();
    assert_ne!(a, c);
}

#[test]
fn poisson_count_is_within_four_sigma_and_times_are_sorted() {
    let p = plan("1h", STEADY_100);
    let t = times(&p);
    let expected = 360_000.0;
    assert!(
        (t.len() as f64 - expected).abs() < 4.0 * expected.sqrt(),
        "{}",
        t.len()
    );
    assert!(t.windows(2).all(|w| w[0] <= w[1]));
    assert!(t.iter().all(|&x| (0.0..3600.0).contains(&x)));
    assert_eq!(ArrivalStream::new(&p).expected_count(), expected);
}

#[test]
fn constant_spacing_is_exact() {
    let p = plan(
        "10s",
        "arrival = \"constant\"\n[[traffic.shape]]\nkind = \"steady\"\nrate = 4\n",
    );
    let t = times(&p);
    assert_eq!(t.len(), 40);
    for w in t.windows(2) {
        assert!((w[1] - w[0] - 0.25).abs() < 1e-6, "{w:?}");
    }
}

#[test]
fn gamma_gaps_have_the_asked_mean_and_cv() {
    let p = plan(
        "2h",
        "arrival = \"gamma\"\ncv = 3.0\n[[traffic.shape]]\nkind = \"steady\"\nrate = 50\n",
    );
    let t = times(&p);
    let gaps: Vec<f64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let n = gaps.len() as f64;
    let mean = gaps.iter().sum::<f64>() / n;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / n;
    assert!((mean - 0.02).abs() < 0.02 * 0.03, "mean gap {mean}");
    assert!(
        (var.sqrt() / mean - 3.0).abs() < 0.1,
        "cv {}",
        var.sqrt() / mean
    );
}

#[test]
fn a_spike_multiplies_the_rate_in_its_window() {
    let p = plan(
        "10m",
        "[[traffic.shape]]\nkind = \"steady\"\nrate = 100\n[[traffic.shape]]\nkind = \"spike\"\nfactor = 5\nat = \"3m\"\nfor = \"3m\"\n",
    );
    let t = times(&p);
    let before = t.iter().filter(|&&x| x < 180.0).count() as f64;
    let during = t.iter().filter(|&&x| (180.0..360.0).contains(&x)).count() as f64;
    assert!((during / before - 5.0).abs() < 0.1, "{before} {during}");
    assert_eq!(
        ArrivalStream::new(&p).expected_count(),
        100.0 * 420.0 + 500.0 * 180.0
    );
}

#[test]
fn ramp_and_diurnal_counts_match_their_integrals() {
    let p = plan(
        "10m",
        "[[traffic.shape]]\nkind = \"ramp\"\nfrom = 0\nto = 200\nat = \"1m\"\nfor = \"4m\"\n",
    );
    // 0 for 1 min, ramp to 200 over 4 min (mean 100), then 200 for 5 min.
    let expected = 100.0 * 240.0 + 200.0 * 300.0;
    assert!((ArrivalStream::new(&p).expected_count() - expected).abs() < 1e-6);
    let n = times(&p).len() as f64;
    assert!((n - expected).abs() < 4.0 * expected.sqrt(), "{n}");
    let in_ramp = times(&p)
        .iter()
        .filter(|&&x| (60.0..180.0).contains(&x))
        .count() as f64;
    // First half of the ramp: 0 -> 100 rps over 120 s = 6000.
    assert!((in_ramp - 6000.0).abs() < 4.0 * 6000f64.sqrt(), "{in_ramp}");
    assert!(
        times(&p).iter().all(|&x| x >= 60.0),
        "nothing before the ramp"
    );

    let p = plan(
        "2h",
        "[[traffic.shape]]\nkind = \"diurnal\"\nmin = 10\nmax = 30\nperiod = \"1h\"\n",
    );
    let expected = 20.0 * 7200.0;
    assert!((ArrivalStream::new(&p).expected_count() - expected).abs() < 1e-3 * expected);
    let n = times(&p).len() as f64;
    assert!((n - expected).abs() < 4.0 * expected.sqrt(), "{n}");
}

#[test]
fn bursts_arrive_at_once_or_sorted_within_their_window() {
    let p = plan(
        "5m",
        "[[traffic.shape]]\nkind = \"burst\"\nrequests = 100\nat = \"1m\"\n",
    );
    let t = times(&p);
    assert_eq!(t.len(), 100);
    assert!(t.iter().all(|&x| x == 60.0));
    let p = plan(
        "5m",
        "[[traffic.shape]]\nkind = \"steady\"\nrate = 1\n[[traffic.shape]]\nkind = \"burst\"\nrequests = 100\nat = \"1m\"\nwithin = \"10s\"\n",
    );
    let t = times(&p);
    assert!(t.windows(2).all(|w| w[0] <= w[1]), "merged in time order");
    let burst = t.iter().filter(|&&x| (60.0..70.0).contains(&x)).count();
    assert!((100..=120).contains(&burst), "{burst}");
    assert_eq!(ArrivalStream::new(&p).expected_count(), 400.0);
}

#[test]
fn classes_follow_their_weights_and_service_times_their_distribution() {
    let p = plan(
        "1h",
        "[[traffic.shape]]\nkind = \"steady\"\nrate = 20\n[[traffic.class]]\nname = \"a\"\nweight = 3\n[[traffic.class]]\nname = \"b\"\nweight = 1\nservice = \"2s\"\n",
    );
    let all: Vec<_> = ArrivalStream::new(&p).collect();
    let n = all.len() as f64;
    let a = all.iter().filter(|x| x.class == 0).count() as f64;
    assert!((a / n - 0.75).abs() < 0.01, "{}", a / n);
    assert!(
        all.iter()
            .filter(|x| x.class == 1)
            .all(|x| x.service_s == 2.0)
    );
    let mean_a = all
        .iter()
        .filter(|x| x.class == 0)
        .map(|x| x.service_s)
        .sum::<f64>()
        / a;
    assert!((mean_a - 0.1).abs() < 0.003, "{mean_a}");
}
