"""Writes ltx2-diffusers-cases.json: FlowMatchEulerDiscreteScheduler as LTX2Pipeline sets it up (its own
sigmas np.linspace(1, 1/N, N), mu = calculate_shift(video tokens, ...) from the scheduler config), run by
diffusers on the probe ODE of ../shared/reference/golden/README.md, in that file's format plus `sigmas_in`.

    python make-ltx2-schedule-cases.py > ltx2-diffusers-cases.json     (needs torch, numpy, diffusers)

The committed file was made with diffusers 0.42.1 (its set_timesteps differs from commit 58eb52c only
where timesteps are given without sigmas), torch 2.13.0 CPU, numpy 2.4.6.
"""
import json
import math

import numpy as np
import torch
from diffusers import FlowMatchEulerDiscreteScheduler

LTX2 = {
    "base_image_seq_len": 1024, "base_shift": 0.95, "invert_sigmas": False, "max_image_seq_len": 4096,
    "max_shift": 2.05, "num_train_timesteps": 1000, "shift": 1.0, "shift_terminal": 0.1,
    "time_shift_type": "exponential", "use_beta_sigmas": False, "use_dynamic_shifting": True,
    "use_exponential_sigmas": False, "use_karras_sigmas": False,
}
# (steps, video tokens): LTX-2 at 768x512x121 (16 x 24 x 16 tokens), its distilled 8 steps, tinyltx2's sizes.
CASES = {"ltx2-768x512-30": (30, 6144), "ltx2-768x512-8": (8, 6144), "ltx2-tiny-8": (8, 160)}
# One step is left out: diffusers stretches sigma 1 to the terminal by dividing 0 by 0 (NaN).


def calculate_shift(image_seq_len, base_seq_len, max_seq_len, base_shift, max_shift):
    m = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    b = base_shift - m * base_seq_len
    return image_seq_len * m + b


def run(steps, seq_len, n=64):
    s = FlowMatchEulerDiscreteScheduler(**LTX2)
    sigmas = np.linspace(1.0, 1 / steps, steps)
    c = s.config
    mu = calculate_shift(seq_len, c.get("base_image_seq_len", 1024), c.get("max_image_seq_len", 4096), c.get("base_shift", 0.95), c.get("max_shift", 2.05))
    s.set_timesteps(steps, sigmas=sigmas, mu=mu)
    s.set_begin_index(0)
    x = torch.tensor([math.sin(0.37 * i + 0.1) for i in range(n)], dtype=torch.float32).reshape(1, n)
    first4 = []
    for t in s.timesteps:
        i = torch.arange(n, dtype=torch.float64)
        v = (0.3 * x.double() - torch.cos(0.01 * float(t) + 0.1 * i)).float()
        x = s.step(v, t, x, return_dict=False)[0]
        first4.append(x[0, :4].tolist())
    return {
        "config": {"_class_name": "FlowMatchEulerDiscreteScheduler", **LTX2}, "steps": steps, "n": n, "mu": mu, "seq_len": seq_len,
        "sigmas_in": sigmas.tolist(), "timesteps": s.timesteps.tolist(), "sigmas": s.sigmas.tolist(),
        "first4_after_each_step": first4, "final": x[0].tolist(),
    }


print(json.dumps({name: run(*args) for name, args in CASES.items()}, indent=1))
