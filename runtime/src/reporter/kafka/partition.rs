//! Which partition a record goes to: the one the Java client's default partitioner picks for
//! its key, so that rust2sky and the Java agent spread one key alike, and the records of one
//! key keep their order on one partition.

/// The partition, from 0 to `count - 1`, of a record with `key`: murmur2 of the key with its
/// sign bit cleared, modulo `count` (`Utils.toPositive(Utils.murmur2(key)) % numPartitions`).
/// 0 when there are no partitions.
pub(super) fn for_key(key: &[u8], count: usize) -> usize {
    if count == 0 {
        return 0;
    }
    let positive = murmur2(key) & 0x7fff_ffff;
    // `positive` fits 31 bits, so the cast loses nothing on any target Rust supports.
    positive as usize % count
}

/// The 32-bit MurmurHash2 that Kafka's Java client computes (`Utils.murmur2`): its seed, and
/// the key's length taken as a Java `int`.
fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    // Java hashes `data.length` as an int; keys here are far below 2 GiB.
    let mut h = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if let Some(&first) = tail.first() {
        h ^= u32::from(first);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_is_the_java_clients() {
        // The cases of Kafka's own `UtilsTest.testMurmur2`, as Java's signed ints.
        let cases: [(&str, i32); 6] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            (
                "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            ("abc", 479_470_107),
        ];
        for (key, java) in cases {
            assert_eq!(murmur2(key.as_bytes()) as i32, java, "{key}");
        }
    }

    #[test]
    fn one_key_one_partition_and_every_partition_in_range() {
        let key = b"6f1a9b2c3d4e.1.17000000000000000";
        assert_eq!(for_key(key, 3), for_key(key, 3));
        // "21" hashes to -973932308, which cleared of its sign bit is 1173551340.
        assert_eq!(for_key(b"21", 7), 1_173_551_340 % 7);
        for count in 1..20 {
            assert!(for_key(key, count) < count);
        }
        assert_eq!(for_key(key, 0), 0);
    }
}
