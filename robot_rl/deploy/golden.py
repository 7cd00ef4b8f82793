"""``golden.npz``: about a thousand observations and the actions SB3 itself gives for them.

Observation sets (``kind`` codes in the file): 0 zeros, 1 bounds (low, high and random corners),
2 random within bounds, 3 beyond VecNormalize's clip (clipped into the Box), 4 states recorded
from rollouts of the SB3 policy, 5 out of the observation-space Box (see below). Infinite bounds
are replaced by ``center +- 3 * scale`` where center/scale are the VecNormalize mean/std (or 0/1
without normalization).

The reference action of every row is SB3's ``predict(deterministic=True)`` on the observation
(normalized by VecNormalize as in training), except for the ``out_of_box`` rows: those hold
observations beyond the Box on entries with a finite bound (``bound +- m * range`` with ``m``
from 0.001 to 10, below and above, all-out corners and rows mixing inside and outside entries;
other entries inside), and their reference is SB3 on the ENV-CLIPPED observation (the envs
return ``minimum(maximum(obs, low), high)`` in float32), which the exported policy must reproduce
from the raw one. A spec without finite bounds has no ``out_of_box`` rows.

Image inputs (a ``(C, H, W)`` Box) are stored flat like every input (``C*H*W`` entries per row,
row-major: the runtime contract) and reshaped to the Box's shape for SB3; their synthetic rows are
per-pixel random images (inside, at and beyond the Box bounds and the extractor's near/far clip).

Image policies keep the bundle small (a pretrained depth bundle ships in the wheel, < 2 MB): fewer
rows (:data:`IMAGE_ROWS`, :data:`IMAGE_RANDOM_ROWS`), image inputs quantized to 1 mm BEFORE the
reference actions are computed (so parity is exact on what is stored) and stored as int32
millimetres (``obs__<input>__mm``), ``obs_flat`` rebuilt on load from ``flat_order``, and the file
compressed. :func:`load_golden` returns the same keys either way.

Keys: ``obs__<input>`` (float32 ``(n, size)`` per input), ``obs_flat`` (inputs concatenated in
manifest order, what the C code takes), ``actions`` (float32 ``(n, action_dim)`` or int64
``(n,)`` for discrete), ``kind`` (uint8 ``(n,)``), ``kind_names``. Plain arrays only: it loads
with ``allow_pickle=False``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from robot_rl.deploy.spec import InputSpec, PolicySpec

KIND_NAMES = ("zeros", "bounds", "random", "beyond_clip", "rollout", "out_of_box")
ROLLOUT = KIND_NAMES.index("rollout")
OUT_OF_BOX = KIND_NAMES.index("out_of_box")
#: Candidate out-of-box rows (rows that end up inside the Box everywhere are dropped).
N_OUT_OF_BOX = 32
#: Image policies: at most this many rows, of which this many per-pixel random images.
IMAGE_ROWS = 240
IMAGE_RANDOM_ROWS = 40
Obs = dict[str, NDArray[np.float32]]


def _range(inp: InputSpec, width: float = 3.0) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    center = inp.mean if inp.mean is not None else np.zeros(inp.size)
    scale = np.sqrt(inp.var) if inp.var is not None else np.ones(inp.size)
    scale = np.maximum(scale, 1e-3)
    low = np.where(np.isfinite(inp.low), inp.low, center - width * scale)
    high = np.where(np.isfinite(inp.high), inp.high, center + width * scale)
    return low.astype(np.float32), high.astype(np.float32)


def clip_to_box(x: NDArray[Any], inp: InputSpec) -> NDArray[np.float32]:
    """The env's clip of raw values of ``inp`` into its Box: float32 ``minimum(maximum(x, low), high)``."""
    return np.minimum(np.maximum(np.asarray(x, np.float32), inp.low), inp.high)


def _outside_entries(
    inp: InputSpec, rng: np.random.Generator, side: NDArray[np.int64]
) -> NDArray[np.float32]:
    """Rows for ``inp``: entry ``side`` 1 -> below ``low``, 2 -> above ``high``, 0 -> inside.

    An entry stays inside where its bound on the chosen side is infinite or ``bound +- m * range``
    is not a finite float32 strictly outside the Box.
    """
    lo, hi = _range(inp)
    width = np.maximum(hi.astype(np.float64) - lo, 1e-3)
    inside = rng.uniform(lo, hi, side.shape)
    m = 10.0 ** rng.uniform(-3.0, 1.0, side.shape)
    with np.errstate(over="ignore"):
        below = (inp.low - m * width).astype(np.float32)
        above = (inp.high + m * width).astype(np.float32)
    below_ok = np.isfinite(inp.low) & np.isfinite(below) & (below < inp.low)
    above_ok = np.isfinite(inp.high) & np.isfinite(above) & (above > inp.high)
    out = np.where((side == 1) & below_ok, below, inside)
    return np.where((side == 2) & above_ok, above, out).astype(np.float32)


def out_of_box_obs(spec: PolicySpec, rng: np.random.Generator, n: int = N_OUT_OF_BOX) -> Obs:
    """Observations outside the Box on finite-bound entries (see module docstring).

    Row 0 is below every finite ``low``, row 1 above every finite ``high``, the next quarter are
    corners (every entry outside, random side), the rest mix inside and outside entries. Rows
    inside the Box everywhere (no finite bound could be left) are dropped.

    Args:
        spec: The policy description (its inputs' ``low``/``high`` are the Box).
        rng: Random generator (drawn from after every other synthetic set).
        n: Candidate rows.

    Returns:
        ``{input name: float32 (rows, size)}``, all inputs with the same rows (possibly none).
    """
    corners = n // 4
    obs: Obs = {}
    for inp in spec.inputs:
        side = rng.integers(0, 3, (n, inp.size))
        side[0], side[1] = 1, 2
        side[2 : 2 + corners] = rng.integers(1, 3, (corners, inp.size))
        obs[inp.name] = _outside_entries(inp, rng, side)
    outside = np.zeros(n, bool)
    for inp in spec.inputs:
        outside |= np.any(clip_to_box(obs[inp.name], inp) != obs[inp.name], axis=1)
    return {k: v[outside] for k, v in obs.items()}


def env_clipped(obs: Obs, kind: NDArray[np.uint8], spec: PolicySpec) -> Obs:
    """``obs`` with the ``out_of_box`` rows clipped into the Box as the env does (others as is)."""
    rows = (kind == OUT_OF_BOX)[:, None]
    return {i.name: np.where(rows, clip_to_box(obs[i.name], i), obs[i.name]) for i in spec.inputs}


def synthetic_obs(
    spec: PolicySpec, rng: np.random.Generator, n_random: int = 500
) -> tuple[Obs, NDArray[np.uint8]]:
    """Zeros, bounds, corners, random, beyond-clip and out-of-box observations for every input."""
    obs: Obs = {}
    for inp in spec.inputs:
        lo, hi = _range(inp)
        corners = np.where(rng.random((32, inp.size)) < 0.5, lo, hi)
        random = rng.uniform(lo, hi, (n_random, inp.size))
        wide_lo, wide_hi = _range(inp, width=25.0)
        beyond = np.clip(np.where(rng.random((16, inp.size)) < 0.5, wide_lo, wide_hi), inp.low, inp.high)
        rows: list[NDArray[Any]] = [np.zeros((1, inp.size)), lo[None], hi[None], corners, random, beyond]
        obs[inp.name] = np.concatenate(rows).astype(np.float32)
    # Drawn after every other set, so the rows above are the same as without this set.
    outside = out_of_box_obs(spec, rng)
    n_out = len(next(iter(outside.values())))
    obs = {k: np.concatenate([v, outside[k]]) for k, v in obs.items()}
    kind = np.concatenate(
        [np.zeros(1), np.ones(2 + 32), np.full(n_random, 2), np.full(16, 3), np.full(n_out, OUT_OF_BOX)],
    ).astype(np.uint8)
    return obs, kind


def rollout_obs(env: Any, predict: Any, spec: PolicySpec, n: int, seed: int) -> Obs:
    """``n`` observations visited by the deterministic policy (``predict(obs) -> action``)."""
    rows: dict[str, list[NDArray[np.float32]]] = {i.name: [] for i in spec.inputs}
    episode = 0
    while len(rows[spec.inputs[0].name]) < n:
        obs, _ = env.reset(seed=seed + episode)
        done = False
        while not done and len(rows[spec.inputs[0].name]) < n:
            for name, value in as_inputs(obs, spec).items():
                rows[name].append(value)
            obs, _, terminated, truncated, _ = env.step(predict(obs))
            done = terminated or truncated
        episode += 1
    return {name: np.stack(v).astype(np.float32) for name, v in rows.items()}


def as_inputs(obs: Any, spec: PolicySpec) -> Obs:
    """One env observation (array or dict) -> ``{input name: flat float32 (size,) array}``."""
    if spec.dict_obs:
        return {i.name: np.asarray(obs[i.name], np.float32).reshape(i.size) for i in spec.inputs}
    return {"obs": np.asarray(obs, np.float32).reshape(-1)}


def flatten(obs: Obs, spec: PolicySpec) -> NDArray[np.float32]:
    """Concatenate inputs along the last axis in manifest order."""
    return np.concatenate([obs[i.name] for i in spec.inputs], axis=-1).astype(np.float32)


def sb3_actions(model: Any, vecnormalize: Any | None, obs: Obs, spec: PolicySpec) -> NDArray[Any]:
    """SB3's ``predict(deterministic=True)`` on raw flat observations (normalized as in training).

    Image inputs are reshaped from ``(n, C*H*W)`` to the Box's ``(n, C, H, W)``.
    """
    shaped = {i.name: obs[i.name].reshape(-1, *i.shape) if i.shape else obs[i.name] for i in spec.inputs}
    batch: Any = shaped if spec.dict_obs else shaped["obs"]
    if vecnormalize is not None:
        batch = vecnormalize.normalize_obs(batch)
    actions, _ = model.predict(batch, deterministic=True)
    if spec.postprocess == "argmax":
        return np.asarray(actions, np.int64).reshape(-1)
    return np.asarray(actions, np.float32).reshape(len(next(iter(obs.values()))), -1)


def write_golden(
    path: Path,
    model: Any,
    vecnormalize: Any | None,
    spec: PolicySpec,
    env: Any,
    seed: int = 0,
    total: int = 1000,
) -> int:
    """Build and write ``golden.npz`` (see module docstring); returns the number of rows."""
    rng = np.random.default_rng(seed)
    images = [i.name for i in spec.inputs if i.image is not None]
    if images:
        total = min(total, IMAGE_ROWS)
    synthetic, kind = synthetic_obs(spec, rng, n_random=IMAGE_RANDOM_ROWS if images else 500)
    n_roll = max(total - len(kind), 0)

    def predict(o: Any) -> Any:
        a = sb3_actions(model, vecnormalize, {k: v[None] for k, v in as_inputs(o, spec).items()}, spec)
        return a[0]

    rolled = rollout_obs(env, predict, spec, n_roll, seed=seed + 1000) if n_roll else {}
    obs = {k: np.concatenate([synthetic[k], rolled[k]]) if rolled else synthetic[k] for k in synthetic}
    kind = np.concatenate([kind, np.full(n_roll, ROLLOUT, np.uint8)])
    millimetres = {k: _to_mm(obs[k]) for k in images}
    obs.update({k: _from_mm(v) for k, v in millimetres.items()})  # the references see what is stored
    arrays: dict[str, NDArray[Any]] = {f"obs__{k}": v for k, v in obs.items() if k not in images}
    arrays.update({f"obs__{k}__mm": v for k, v in millimetres.items()})
    if images:
        arrays["flat_order"] = np.array([i.name for i in spec.inputs])
    else:
        arrays["obs_flat"] = flatten(obs, spec)
    arrays["actions"] = sb3_actions(model, vecnormalize, env_clipped(obs, kind, spec), spec)
    arrays["kind"] = kind
    arrays["kind_names"] = np.array(KIND_NAMES)
    (np.savez_compressed if images else np.savez)(path, **arrays)  # type: ignore[operator,arg-type]
    return len(kind)


def _to_mm(x: NDArray[Any]) -> NDArray[np.int32]:
    return np.round(np.asarray(x, np.float64) * 1000.0).astype(np.int32)


def _from_mm(mm: NDArray[Any]) -> NDArray[np.float32]:
    return mm.astype(np.float32) / np.float32(1000.0)


def load_golden(path: Path) -> dict[str, NDArray[Any]]:
    """Load ``golden.npz`` without pickle (image inputs decoded, ``obs_flat`` rebuilt)."""
    with np.load(path, allow_pickle=False) as data:
        out = {k: data[k] for k in data.files}
    for key in [k for k in out if k.endswith("__mm")]:
        out[key.removesuffix("__mm")] = _from_mm(out.pop(key))
    if "flat_order" in out:
        order = [str(n) for n in out.pop("flat_order")]
        out["obs_flat"] = np.concatenate([out[f"obs__{n}"] for n in order], axis=-1).astype(np.float32)
    return out
