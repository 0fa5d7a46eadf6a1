//! `--cache`: how much memory the RocksDB block cache may hold.
//!
//! Every point read and scan looks its table blocks up in the block cache; a miss reads the
//! block from the file (through the OS page cache) and decompresses it. The cache holds
//! uncompressed blocks and grows only as blocks are read, so a large limit costs memory only
//! once the data is read. As in CockroachDB's flag of the same name, the size is given in
//! bytes (`512MiB`, `2GB`, `1073741824`) or as a share of the machine's memory (`25%`, read
//! from `/proc/meminfo`).

use anyhow::{bail, Context};

/// The default. A quarter of the machine's memory (6 GiB here) made no difference to TPC-C at
/// 10 warehouses within the noise of alternating runs (`docs/benchmarks.md`, 2026-12-07), so
/// the default stays small for machines that run several nodes or tests at once.
pub const DEFAULT_CACHE: &str = "256MiB";

/// The smallest cache accepted: below it every read misses.
const MIN_CACHE_BYTES: u64 = 16 << 20;

/// Parses a `--cache` value into bytes.
pub fn parse_cache_size(value: &str) -> anyhow::Result<usize> {
    let value = value.trim();
    let bytes = match value.strip_suffix('%') {
        Some(share) => {
            let share: f64 = share
                .trim()
                .parse()
                .with_context(|| format!("--cache {value}: not a percentage"))?;
            if !(share > 0.0 && share <= 100.0) {
                bail!("--cache {value}: the share of memory must be above 0% and at most 100%");
            }
            (total_memory()? as f64 * share / 100.0) as u64
        }
        None => value
            .parse::<bytesize::ByteSize>()
            .map_err(|e| anyhow::anyhow!("--cache {value}: {e}"))?
            .as_u64(),
    };
    if bytes < MIN_CACHE_BYTES {
        bail!("--cache {value}: at least 16MiB");
    }
    usize::try_from(bytes).with_context(|| format!("--cache {value}: too large"))
}

/// The machine's memory in bytes (`MemTotal` of `/proc/meminfo`).
fn total_memory() -> anyhow::Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")
        .context("--cache as a percentage needs /proc/meminfo; give a size in bytes")?;
    meminfo_total(&meminfo).context("no MemTotal in /proc/meminfo; give --cache in bytes")
}

fn meminfo_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_bytes() {
        assert_eq!(
            parse_cache_size("256MiB").expect("a size in MiB parses"),
            256 << 20
        );
        assert_eq!(
            parse_cache_size("2GiB").expect("a size in GiB parses"),
            2 << 30
        );
        assert_eq!(
            parse_cache_size("1GB").expect("a size in GB parses"),
            1_000_000_000
        );
        assert_eq!(
            parse_cache_size("33554432").expect("plain bytes parse"),
            32 << 20
        );
    }

    #[test]
    fn shares_of_memory() {
        let total = total_memory().expect("/proc/meminfo names MemTotal on Linux") as usize;
        let quarter = parse_cache_size("25%").expect("a share of memory parses");
        assert!(quarter.abs_diff(total / 4) <= 1, "{quarter} vs {total}");
        assert_eq!(
            meminfo_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            Some(24_576_000 * 1024)
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in ["", "lots", "0%", "101%", "-5%", "1KiB", "12 parsecs"] {
            assert!(parse_cache_size(bad).is_err(), "{bad:?} accepted");
        }
    }
}
