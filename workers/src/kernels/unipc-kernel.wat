;; UniPC's fused step (unipc-scheduler.ts) over float32 lanes, four at a time. In JavaScript the same
;; loop reads every value as a double and cannot vectorise: 20-30 ms a step for Wan's 480p latent on one
;; core, against a few ms here. The coefficients are the scheduler's scalars for this step; pointers and
;; `bytes` are byte offsets into this module's memory, multiples of 16 (buffers are padded to 4 floats).
;; Assembled to unipc-kernel.wasm by scripts/assemble-wasm.mjs at build time.
(module
  (memory (export "memory") 0)
  (func (export "step")
    (param $x i32) (param $u i32) (param $c i32) (param $h0 i32) (param $h1 i32) (param $h2 i32) (param $last i32) (param $m i32) (param $bytes i32)
    (param $sigma f32) (param $g f32) (param $cS f32) (param $cL f32) (param $cN f32) (param $cM0 f32) (param $c1 f32) (param $c2 f32)
    (param $pS f32) (param $pN f32) (param $p0 f32) (param $p1 f32)
    (local $i i32)
    (local $vsigma v128) (local $vg v128) (local $vcS v128) (local $vcL v128) (local $vcN v128) (local $vcM0 v128) (local $vc1 v128) (local $vc2 v128)
    (local $vpS v128) (local $vpN v128) (local $vp0 v128) (local $vp1 v128)
    (local $uj v128) (local $xj v128) (local $mt v128) (local $a0 v128) (local $a1 v128) (local $xc v128)
    (local.set $vsigma (f32x4.splat (local.get $sigma)))
    (local.set $vg (f32x4.splat (local.get $g)))
    (local.set $vcS (f32x4.splat (local.get $cS)))
    (local.set $vcL (f32x4.splat (local.get $cL)))
    (local.set $vcN (f32x4.splat (local.get $cN)))
    (local.set $vcM0 (f32x4.splat (local.get $cM0)))
    (local.set $vc1 (f32x4.splat (local.get $c1)))
    (local.set $vc2 (f32x4.splat (local.get $c2)))
    (local.set $vpS (f32x4.splat (local.get $pS)))
    (local.set $vpN (f32x4.splat (local.get $pN)))
    (local.set $vp0 (f32x4.splat (local.get $p0)))
    (local.set $vp1 (f32x4.splat (local.get $p1)))
    (block $done
      (br_if $done (i32.eqz (local.get $bytes)))
      (loop $next
        (local.set $uj (v128.load (i32.add (local.get $u) (local.get $i))))
        (local.set $xj (v128.load (i32.add (local.get $x) (local.get $i))))
        ;; x0 = x - sigma * (u + g * (c - u))
        (local.set $mt (f32x4.sub (local.get $xj)
          (f32x4.mul (local.get $vsigma)
            (f32x4.add (local.get $uj) (f32x4.mul (local.get $vg) (f32x4.sub (v128.load (i32.add (local.get $c) (local.get $i))) (local.get $uj)))))))
        (local.set $a0 (v128.load (i32.add (local.get $h0) (local.get $i))))
        (local.set $a1 (v128.load (i32.add (local.get $h1) (local.get $i))))
        (local.set $xc
          (f32x4.add
            (f32x4.add
              (f32x4.add (f32x4.mul (local.get $vcS) (local.get $xj)) (f32x4.mul (local.get $vcL) (v128.load (i32.add (local.get $last) (local.get $i)))))
              (f32x4.add (f32x4.mul (local.get $vcN) (local.get $mt)) (f32x4.mul (local.get $vcM0) (local.get $a0))))
            (f32x4.add (f32x4.mul (local.get $vc1) (local.get $a1)) (f32x4.mul (local.get $vc2) (v128.load (i32.add (local.get $h2) (local.get $i)))))))
        (v128.store (i32.add (local.get $m) (local.get $i)) (local.get $mt))
        (v128.store (i32.add (local.get $last) (local.get $i)) (local.get $xc))
        (v128.store (i32.add (local.get $x) (local.get $i))
          (f32x4.add
            (f32x4.add (f32x4.mul (local.get $vpS) (local.get $xc)) (f32x4.mul (local.get $vpN) (local.get $mt)))
            (f32x4.add (f32x4.mul (local.get $vp0) (local.get $a0)) (f32x4.mul (local.get $vp1) (local.get $a1)))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $i) (local.get $bytes)))))))
