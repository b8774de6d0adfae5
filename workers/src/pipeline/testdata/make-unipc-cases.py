"""Writes unipc-diffusers-cases.json: UniPC variants the shared golden file does not cover (orders 1 and 3,
bh1, sigma_min, lower_order_final off, disable_corrector, one step), run by diffusers' own
UniPCMultistepScheduler on the probe ODE of ../shared/reference/golden/README.md, in that file's format.

    python make-unipc-cases.py > unipc-diffusers-cases.json     (needs torch, numpy, diffusers)

The committed file was made with scheduling_unipc_multistep.py of diffusers commit 58eb52c (2026-08-23),
torch 2.13.0 CPU; the same script reproduces the shared golden UniPC cases to 1.2e-7.
"""
import json
import math

import torch
from diffusers import UniPCMultistepScheduler

WAN21 = {
    "_class_name": "UniPCMultistepScheduler", "beta_end": 0.02, "beta_schedule": "linear", "beta_start": 0.0001,
    "disable_corrector": [], "dynamic_thresholding_ratio": 0.995, "final_sigmas_type": "zero", "flow_shift": 3.0,
    "lower_order_final": True, "num_train_timesteps": 1000, "predict_x0": True, "prediction_type": "flow_prediction",
    "rescale_betas_zero_snr": False, "sample_max_value": 1.0, "solver_order": 2, "solver_p": None, "solver_type": "bh2",
    "steps_offset": 0, "thresholding": False, "timestep_spacing": "linspace", "trained_betas": None,
    "use_beta_sigmas": False, "use_exponential_sigmas": False, "use_flow_sigmas": True, "use_karras_sigmas": False,
}
CASES = {
    "unipc-order1-bh2-10": (10, dict(solver_order=1)),
    "unipc-order3-bh2-12": (12, dict(solver_order=3)),
    "unipc-order3-bh1-sigmamin-12": (12, dict(solver_order=3, solver_type="bh1", final_sigmas_type="sigma_min")),
    "unipc-order2-bh1-sigmamin-7": (7, dict(solver_type="bh1", final_sigmas_type="sigma_min")),
    "unipc-order2-nolowerfinal-sigmamin-6": (6, dict(lower_order_final=False, final_sigmas_type="sigma_min", flow_shift=5.0)),
    "unipc-order2-shift1-20": (20, dict(flow_shift=1.0)),
    "unipc-order2-disablecorrector-10": (10, dict(disable_corrector=[0, 3])),
    "unipc-order2-steps1": (1, dict()),
}


def run(config, steps, n=64):
    s = UniPCMultistepScheduler(**{k: v for k, v in config.items() if not k.startswith("_")})
    s.set_timesteps(steps)
    x = torch.tensor([math.sin(0.37 * i + 0.1) for i in range(n)], dtype=torch.float32).reshape(1, n)
    first4 = []
    for t in s.timesteps:
        v = [0.3 * float(x[0, i]) - math.cos(0.01 * float(t) + 0.1 * i) for i in range(n)]
        x = s.step(torch.tensor(v, dtype=torch.float32).reshape(1, n), t, x).prev_sample
        first4.append([float(a) for a in x[0, :4]])
    return dict(config=config, steps=steps, n=n, mu=None, seq_len=None, timesteps=[float(t) for t in s.timesteps],
                sigmas=[float(a) for a in s.sigmas], first4_after_each_step=first4, final=[float(a) for a in x[0]])


print(json.dumps({name: run({**WAN21, **change}, steps) for name, (steps, change) in CASES.items()}, indent=1))
