//! Small, exact-enough statistics with no dependencies.

/// P(X <= k) for X ~ Poisson(lambda).
pub fn poisson_cdf(k: u64, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    // Sum in log space term by term; k is small in every use here (capped for safety).
    let k = k.min(10_000);
    let mut term = (-lambda).exp();
    if term == 0.0 {
        // lambda is huge; fall back to a normal approximation.
        let z = (k as f64 + 0.5 - lambda) / lambda.sqrt();
        return normal_cdf(z);
    }
    let mut sum = term;
    for i in 1..=k {
        term *= lambda / i as f64;
        sum += term;
    }
    sum.min(1.0)
}

/// P(X >= k) for X ~ Poisson(lambda).
pub fn poisson_sf(k: u64, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    (1.0 - poisson_cdf(k - 1, lambda)).max(0.0)
}

fn normal_cdf(z: f64) -> f64 {
    // Abramowitz-Stegun 7.1.26 via erf.
    let t = 1.0 / (1.0 + 0.3275911 * (z.abs() / std::f64::consts::SQRT_2));
    let y = 1.0
        - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
            + 0.254829592)
            * t
            * (-(z * z / 2.0)).exp();
    if z >= 0.0 {
        0.5 * (1.0 + y)
    } else {
        0.5 * (1.0 - y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_values() {
        assert!((poisson_cdf(0, 2.0) - (-2.0f64).exp()).abs() < 1e-12);
        assert!((poisson_cdf(2, 1.0) - 0.919_698_6).abs() < 1e-6);
        assert!((poisson_sf(3, 1.0) - (1.0 - 0.919_698_6)).abs() < 1e-6);
        assert_eq!(poisson_sf(0, 5.0), 1.0);
        assert!(poisson_cdf(900, 1000.0) < 0.01);
        assert!(poisson_cdf(1100, 1000.0) > 0.99);
    }
}
