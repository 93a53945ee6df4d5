//! Prints the seconds one bcrypt hash takes at a cost (default 12), single-threaded: the
//! figure the login throughput bound is computed from (`cores / seconds per hash`).
//!
//! `cargo run --release -p auth-service --example bcrypt_cost -- 12 10`

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let cost: u32 = args.next().map_or(12, |a| a.parse().expect("cost"));
    let rounds: u32 = args.next().map_or(10, |a| a.parse().expect("rounds"));
    let hash = bcrypt::hash("bench-password", cost).expect("hash");
    let start = Instant::now();
    for _ in 0..rounds {
        assert!(bcrypt::verify("bench-password", &hash).expect("verify"));
    }
    println!("{:.6}", start.elapsed().as_secs_f64() / f64::from(rounds));
}
