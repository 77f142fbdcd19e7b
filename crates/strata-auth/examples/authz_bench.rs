//! Times `Authorizer::authorize` with 10,000 ACLs.
//!
//! `cargo run --release -p strata-auth --example authz_bench`
//!
//! The ACLs mix literal topics, prefixed patterns of several lengths, the
//! literal `*`, `User:*` entries, denies, host-specific entries and group
//! ACLs, over 500 principals and 200 teams; the checks mix hits, misses,
//! implied describes and unknown principals.

use std::hint::black_box;
use std::time::Instant;

use strata_auth::acl::{
    AclBinding, AclOperation, AclPermission, Authorizer, AuthorizerConfig, PatternType,
    ResourceType,
};

const ACLS: usize = 10_000;
const CHECKS: usize = 1_000_000;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn topic(rng: &mut Rng) -> String {
    format!(
        "team{}.service{}.events-{}",
        rng.below(200),
        rng.below(20),
        rng.below(10)
    )
}

fn main() {
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let ops = [
        AclOperation::Read,
        AclOperation::Write,
        AclOperation::Describe,
        AclOperation::All,
        AclOperation::AlterConfigs,
        AclOperation::Create,
    ];
    let hosts = ["*", "*", "*", "10.0.0.1", "10.0.0.2"];
    let mut authorizer = Authorizer::new(AuthorizerConfig {
        super_users: vec!["User:admin".into()],
        allow_everyone_if_no_acl_found: false,
    });
    let mut kinds = [0usize; 5];
    while authorizer.len() < ACLS {
        let principal = if rng.below(20) == 0 {
            "User:*".to_owned()
        } else {
            format!("User:user{}", rng.below(500))
        };
        let host = hosts[rng.below(hosts.len())];
        let op = ops[rng.below(ops.len())];
        let permission = if rng.below(10) == 0 {
            AclPermission::Deny
        } else {
            AclPermission::Allow
        };
        let kind = rng.below(100);
        let (resource_type, name, pattern) = match kind {
            0..=54 => (ResourceType::Topic, topic(&mut rng), PatternType::Literal),
            55..=79 => {
                let full = topic(&mut rng);
                let cut = match rng.below(3) {
                    0 => full.find('.').map_or(full.len(), |i| i + 1),
                    1 => full.rfind('.').map_or(full.len(), |i| i + 1),
                    _ => full.len() - 2,
                };
                (
                    ResourceType::Topic,
                    full[..cut].to_owned(),
                    PatternType::Prefixed,
                )
            }
            80..=81 => (ResourceType::Topic, "*".to_owned(), PatternType::Literal),
            82..=91 => (
                ResourceType::Group,
                format!("group{}", rng.below(2000)),
                PatternType::Literal,
            ),
            _ => (
                ResourceType::Group,
                format!("group{}", rng.below(100)),
                PatternType::Prefixed,
            ),
        };
        let slot = match kind {
            0..=54 => 0,
            55..=79 => 1,
            80..=81 => 2,
            82..=91 => 3,
            _ => 4,
        };
        let binding = AclBinding::new(
            resource_type,
            name,
            pattern,
            principal,
            host,
            op,
            permission,
        );
        if authorizer.add(binding) {
            kinds[slot] += 1;
        }
    }
    println!(
        "{} ACLs: {} literal topics, {} prefixed topics, {} topic wildcards, {} literal groups, {} prefixed groups",
        authorizer.len(),
        kinds[0],
        kinds[1],
        kinds[2],
        kinds[3],
        kinds[4]
    );

    struct Check {
        principal: String,
        host: &'static str,
        op: AclOperation,
        resource_type: ResourceType,
        name: String,
    }
    let checks: Vec<Check> = (0..4096)
        .map(|_| {
            let principal = match rng.below(10) {
                0 => "User:stranger".to_owned(),
                _ => format!("User:user{}", rng.below(500)),
            };
            let (resource_type, name) = if rng.below(5) == 0 {
                (ResourceType::Group, format!("group{}", rng.below(2000)))
            } else {
                (ResourceType::Topic, topic(&mut rng))
            };
            Check {
                principal,
                host: ["10.0.0.1", "10.0.0.2", "10.0.0.3"][rng.below(3)],
                op: [
                    AclOperation::Read,
                    AclOperation::Write,
                    AclOperation::Describe,
                ][rng.below(3)],
                resource_type,
                name,
            }
        })
        .collect();

    // Warm up, then time.
    for c in &checks {
        black_box(authorizer.authorize(&c.principal, c.host, c.op, c.resource_type, &c.name));
    }
    let started = Instant::now();
    let mut allowed = 0usize;
    for i in 0..CHECKS {
        let c = &checks[i % checks.len()];
        allowed += usize::from(black_box(&authorizer).authorize(
            black_box(&c.principal),
            c.host,
            c.op,
            c.resource_type,
            black_box(&c.name),
        ));
    }
    let elapsed = started.elapsed();
    println!(
        "{CHECKS} checks in {:.1} ms: {:.0} ns/check ({:.1}% allowed)",
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_nanos() as f64 / CHECKS as f64,
        allowed as f64 * 100.0 / CHECKS as f64
    );
}
