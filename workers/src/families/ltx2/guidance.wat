;; LTX-2's x0-space guidance (guidance.ts) over float32 lanes, four at a time. The same two loops in
;; JavaScript (and the Euler step after them) read every value as a double and cannot vectorise: 8-15 ms
;; a step for the 768x512x121 video latent on one core, against about 1 ms here. Pointers and `bytes` are byte offsets into this
;; module's memory, multiples of 16 (buffers are padded to 4 floats with zeros, which add nothing to the sums).
;; Assembled to guidance.wasm by scripts/assemble-wasm.mjs at build time.
(module
  (memory (export "memory") 0)

  ;; out = g = c + sigma (ku u + kp p + km m - kc vc), c = x - sigma vc; the sums of c, c^2, g and g^2 as
  ;; four f64 at $sums (float32 sums of a million values would lose the standard deviations' digits).
  (func (export "guide")
    (param $x i32) (param $vc i32) (param $u i32) (param $p i32) (param $m i32) (param $out i32) (param $bytes i32) (param $sums i32)
    (param $sigma f32) (param $ku f32) (param $kp f32) (param $km f32) (param $kc f32)
    (local $i i32)
    (local $vsigma v128) (local $vku v128) (local $vkp v128) (local $vkm v128) (local $vkc v128)
    (local $cond v128) (local $cj v128) (local $gj v128) (local $lo v128) (local $hi v128)
    (local $sc v128) (local $sc2 v128) (local $sg v128) (local $sg2 v128)
    (local.set $vsigma (f32x4.splat (local.get $sigma)))
    (local.set $vku (f32x4.splat (local.get $ku)))
    (local.set $vkp (f32x4.splat (local.get $kp)))
    (local.set $vkm (f32x4.splat (local.get $km)))
    (local.set $vkc (f32x4.splat (local.get $kc)))
    (block $done
      (br_if $done (i32.eqz (local.get $bytes)))
      (loop $next
        (local.set $cond (v128.load (i32.add (local.get $vc) (local.get $i))))
        (local.set $cj (f32x4.sub (v128.load (i32.add (local.get $x) (local.get $i))) (f32x4.mul (local.get $vsigma) (local.get $cond))))
        (local.set $gj (f32x4.add (local.get $cj)
          (f32x4.mul (local.get $vsigma)
            (f32x4.sub
              (f32x4.add
                (f32x4.mul (local.get $vku) (v128.load (i32.add (local.get $u) (local.get $i))))
                (f32x4.add
                  (f32x4.mul (local.get $vkp) (v128.load (i32.add (local.get $p) (local.get $i))))
                  (f32x4.mul (local.get $vkm) (v128.load (i32.add (local.get $m) (local.get $i))))))
              (f32x4.mul (local.get $vkc) (local.get $cond))))))
        (v128.store (i32.add (local.get $out) (local.get $i)) (local.get $gj))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $cj)))
        (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $cj) (local.get $cj))))
        (local.set $sc (f64x2.add (local.get $sc) (f64x2.add (local.get $lo) (local.get $hi))))
        (local.set $sc2 (f64x2.add (local.get $sc2) (f64x2.add (f64x2.mul (local.get $lo) (local.get $lo)) (f64x2.mul (local.get $hi) (local.get $hi)))))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $gj)))
        (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $gj) (local.get $gj))))
        (local.set $sg (f64x2.add (local.get $sg) (f64x2.add (local.get $lo) (local.get $hi))))
        (local.set $sg2 (f64x2.add (local.get $sg2) (f64x2.add (f64x2.mul (local.get $lo) (local.get $lo)) (f64x2.mul (local.get $hi) (local.get $hi)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $bytes)))))
    (f64.store offset=0 (local.get $sums) (f64.add (f64x2.extract_lane 0 (local.get $sc)) (f64x2.extract_lane 1 (local.get $sc))))
    (f64.store offset=8 (local.get $sums) (f64.add (f64x2.extract_lane 0 (local.get $sc2)) (f64x2.extract_lane 1 (local.get $sc2))))
    (f64.store offset=16 (local.get $sums) (f64.add (f64x2.extract_lane 0 (local.get $sg)) (f64x2.extract_lane 1 (local.get $sg))))
    (f64.store offset=24 (local.get $sums) (f64.add (f64x2.extract_lane 0 (local.get $sg2)) (f64x2.extract_lane 1 (local.get $sg2)))))

  ;; out = v = (x - k out) / sigma, the rescaled estimate back to a velocity, and next = x + dt v: the Euler
  ;; step of diffusers' FlowMatchEulerDiscreteScheduler (dt = sigma_next - sigma).
  (func (export "finish") (param $x i32) (param $out i32) (param $next i32) (param $bytes i32) (param $k f32) (param $sigma f32) (param $dt f32)
    (local $i i32) (local $vk v128) (local $vsigma v128) (local $vdt v128) (local $xj v128) (local $vj v128)
    (local.set $vk (f32x4.splat (local.get $k)))
    (local.set $vsigma (f32x4.splat (local.get $sigma)))
    (local.set $vdt (f32x4.splat (local.get $dt)))
    (block $done
      (br_if $done (i32.eqz (local.get $bytes)))
      (loop $next
        (local.set $xj (v128.load (i32.add (local.get $x) (local.get $i))))
        (local.set $vj (f32x4.div
          (f32x4.sub (local.get $xj) (f32x4.mul (local.get $vk) (v128.load (i32.add (local.get $out) (local.get $i)))))
          (local.get $vsigma)))
        (v128.store (i32.add (local.get $out) (local.get $i)) (local.get $vj))
        (v128.store (i32.add (local.get $next) (local.get $i)) (f32x4.add (local.get $xj) (f32x4.mul (local.get $vdt) (local.get $vj))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $bytes)))))))
