;; The code-cache checksum of read-cache-data.ts, whose CHECKSUM_WASM is `wat2wasm` of this file, in base64
;; (test/cli/code-cache.test.ts assembles it and compares). h(n): the 8 bytes at n are the checksum of the n before
;; them, which it writes there; they and all after them read as zeros (the memory is zeroed past the file).
;; h = n; for each 8-byte little-endian word w, 4 a turn: h = (h ^ w) * 0x9E3779B185EBCA87; h ^= h >>> 29.
(module
  (import "m" "m" (memory 0))
  (func (export "h") (param $n i32) (result i32)
    (local $at i32) (local $h i64) (local $k i64) (local $stored i64)
    (local.set $stored (i64.load align=1 (local.get $n)))
    (i64.store align=1 (local.get $n) (i64.const 0))
    (local.set $h (i64.extend_i32_u (local.get $n)))
    (local.set $k (i64.const 0x9E3779B185EBCA87))
    (block $done
      (loop $words
        (br_if $done (i32.ge_u (local.get $at) (local.get $n)))
        (local.set $h (i64.xor (local.tee $h (i64.mul (i64.xor (local.get $h) (i64.load align=1 (local.get $at))) (local.get $k)))
                               (i64.shr_u (local.get $h) (i64.const 29))))
        (local.set $h (i64.xor (local.tee $h (i64.mul (i64.xor (local.get $h) (i64.load offset=8 align=1 (local.get $at))) (local.get $k)))
                               (i64.shr_u (local.get $h) (i64.const 29))))
        (local.set $h (i64.xor (local.tee $h (i64.mul (i64.xor (local.get $h) (i64.load offset=16 align=1 (local.get $at))) (local.get $k)))
                               (i64.shr_u (local.get $h) (i64.const 29))))
        (local.set $h (i64.xor (local.tee $h (i64.mul (i64.xor (local.get $h) (i64.load offset=24 align=1 (local.get $at))) (local.get $k)))
                               (i64.shr_u (local.get $h) (i64.const 29))))
        (local.set $at (i32.add (local.get $at) (i32.const 32)))
        (br $words)))
    (i64.store align=1 (local.get $n) (local.get $h))
    (i64.eq (local.get $h) (local.get $stored))))
