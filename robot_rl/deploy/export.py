"""``export_policy``: a trained run -> a self-contained bundle for a robot.

Bundle layout (``out_dir``)::

    policy.onnx     one file, no external data, opset 17; raw obs -> env action
    policy.pt       TorchScript, same semantics (``torch.jit.trace`` of the same module)
    policy_c/       policy.h, policy.c (C99, no malloc, libm only), harness.c, README.txt
    golden.npz      ~1000 observations and SB3's own deterministic actions for them
    closed_loop.json  SB3's closed-loop result on seeded episodes (verify's reference)
    manifest.json   layouts, units, bounds, normalization, provenance, SHA-256, and the deploy
                    contract: policy rate, the env's safe action, what each action entry means
                    per second, the robot's safety limits (from launch/deploy_*.yaml); for
                    image policies the features extractor's settings and the env's camera
                    contract (``env.unwrapped.camera_contract()``)
    manifest.sig    optional Ed25519 signature of manifest.json (``sign=KEY``)

Everything is generated from one :class:`~robot_rl.deploy.spec.PolicySpec`. The bundle holds no
pickle: the robot side needs only ``manifest.json`` + ``policy.onnx`` (or ``policy_c/``), and
nothing outside the bundle, whatever its working directory.
"""

from __future__ import annotations

import datetime as _dt
import json
import shutil
import tempfile
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl import runs
from robot_rl.deploy import c_codegen, golden
from robot_rl.deploy.manifest import SCHEMA, generic_layout, write_manifest
from robot_rl.deploy.onnx_scan import RANDOM_OPS
from robot_rl.deploy.source import PolicySource, load_source
from robot_rl.deploy.spec import InputSpec, PolicySpec, extract_spec
from robot_rl.errors import InputError

FORMATS = ("onnx", "torchscript", "c")
OPSET = 17


def export_policy(
    source: str | Path | PolicySource | Any,
    out_dir: str | Path,
    formats: Iterable[str] = FORMATS,
    which: str = "best",
    golden_rows: int = 1000,
    reference_episodes: int = 10,
    deploy_config: str | Path | None = None,
    safe_action: list[float | None] | int | None = None,
    sign: str | Path | None = None,
) -> Path:
    """Export a trained policy into ``out_dir`` (see module docstring); returns ``out_dir``.

    Args:
        source: Run directory, model ``.zip`` or a :class:`robot_rl.runs.LoadedRun`.
        out_dir: Bundle directory (replaced if it holds a previous bundle).
        formats: Subset of ``("onnx", "torchscript", "c")``; ``golden.npz`` and the manifest are
            always written.
        which: ``"best"`` (falls back to final) or ``"final"`` model of a run directory.
        golden_rows: Number of golden observations (synthetic + rollout states).
        reference_episodes: Seeded episodes (from ``CLOSED_LOOP_SEED``) of SB3's deterministic
            policy recorded in ``closed_loop.json``, the reference of verify's closed loop;
            0 writes none (verify then reports a FAIL line for the closed loop).
        deploy_config: Deploy YAML, or a shipped deploy config's name (``deploy_nav``), whose
            limits the bundle carries (default: the shipped deploy config of the env, if any;
            else the action bounds, no slew limit, a watchdog of 3 control periods).
        safe_action: The safe action, only for envs that do not declare ``safe_action()``
            (robot_rl envs do; third-party envs must be told).
        sign: Ed25519 private key (``robot-rl keygen``) to sign the manifest with.

    Raises:
        ValueError: unknown format, unsupported policy, an env without a safe action or a
            control period, inconsistent limits, or ``out_dir`` is a non-bundle directory.
        FileNotFoundError: missing run files.
    """
    formats = tuple(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise InputError(f"formats {bad or '()'} not accepted; choose from {list(FORMATS)}")
    if reference_episodes < 0:
        raise InputError(f"reference_episodes={reference_episodes} is not accepted; expected an int >= 0")
    src = _as_source(source, which)
    spec = extract_spec(src.model, src.vecnormalize, src.algo)
    _check_out_dir(Path(out_dir))
    env = _make_env(src.env_id, src.env_kwargs)
    try:
        contract = deploy_contract(env, src.env_id, spec, deploy_config, safe_action)
    except BaseException:
        env.close()
        raise
    out = Path(out_dir)
    tmp = _staging_dir(out)
    try:
        _write_bundle(tmp, src, spec, env, contract, formats, golden_rows, reference_episodes, sign)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        env.close()
    _replace_dir(tmp, out)
    return out


def _write_bundle(
    out: Path,
    src: PolicySource,
    spec: PolicySpec,
    env: Any,
    contract: dict[str, Any],
    formats: tuple[str, ...],
    golden_rows: int,
    reference_episodes: int,
    sign: str | Path | None,
) -> None:
    """Write every file of the bundle into ``out`` (a staging directory), manifest and signature last."""
    from robot_rl.deploy.graph import ExportedPolicy

    module = ExportedPolicy(spec)
    if "onnx" in formats:
        write_onnx(module, spec, out / "policy.onnx")
    if "torchscript" in formats:
        write_torchscript(module, spec, out / "policy.pt")
    if "c" in formats:
        c_codegen.write_c_package(spec, out / "policy_c")
    rows = golden.write_golden(out / "golden.npz", src.model, src.vecnormalize, spec, env, total=golden_rows)
    if reference_episodes:
        from robot_rl.deploy.closed_loop import REFERENCE_FILE, record_sb3_reference, write_reference

        reference = record_sb3_reference(
            src.model, src.vecnormalize, spec, src.env_id, src.env_kwargs, reference_episodes
        )
        write_reference(out / REFERENCE_FILE, reference)
    manifest = build_manifest(spec, src, env, formats, rows)
    manifest["env"]["policy_hz"] = 1.0 / contract["period_s"]
    manifest["action"].update(safe_action=contract["safe_action"], semantics=contract["semantics"])
    manifest["safety"] = contract["safety"]
    write_manifest(out, manifest)
    if sign is not None:
        from robot_rl.deploy.signing import sign_bundle

        sign_bundle(out, Path(sign))


def deploy_contract(
    env: Any,
    env_id: str,
    spec: PolicySpec,
    config_path: str | Path | None = None,
    safe_action: list[float | None] | int | None = None,
) -> dict[str, Any]:
    """What the robot needs besides the network: control period, safe action, action meaning, limits.

    Raises:
        ValueError: no control period, no safe action (or one given for an env that declares
            its own), or limits that contradict each other.
    """
    from robot_rl.deploy.deploy_config import load_deploy_config, resolve_safety, shipped_config_for
    from robot_rl.resources import resolve_config

    period = _control_period(env)
    if not period or period <= 0:
        raise InputError(
            f"{env_id} has no control period (env.unwrapped.dt or metadata render_fps); cannot export"
        )
    safe = _safe_action(env, env_id, spec, safe_action)
    semantics = env.unwrapped.action_semantics() if hasattr(env.unwrapped, "action_semantics") else None
    path = resolve_config(config_path, "deploy") if config_path is not None else shipped_config_for(env_id)
    config = load_deploy_config(path)
    config.check_env(env_id)
    discrete = spec.postprocess == "argmax"
    action: dict[str, Any] = {"type": "discrete" if discrete else "box", "safe_action": safe}
    if not discrete:
        action.update(size=spec.action_dim, low=spec.action_low.tolist(), high=spec.action_high.tolist())
    source = None if path is None else path.name
    safety = resolve_safety(action, period, config, source)
    return {"period_s": period, "safe_action": safe, "semantics": semantics, "safety": safety}


def _safe_action(
    env: Any, env_id: str, spec: PolicySpec, given: list[float | None] | int | None
) -> list[float | None] | int:
    declared = env.unwrapped.safe_action() if hasattr(env.unwrapped, "safe_action") else None
    if declared is not None and given is not None and given != declared:
        raise InputError(f"{env_id} declares its safe action {declared}; it cannot be replaced by {given}")
    safe = declared if declared is not None else given
    if safe is None:
        raise InputError(
            f"{env_id} declares no safe action (env.unwrapped.safe_action()); robot_rl envs do. For "
            "another env pass safe_action= (robot-rl export --safe-action), e.g. 0,0 for zero velocity"
        )
    if spec.postprocess == "argmax":
        if not isinstance(safe, int | np.integer) or not 0 <= int(safe) < spec.n_actions:
            raise InputError(f"safe action {safe!r} must be an index in [0, {spec.n_actions - 1}]")
        return int(safe)
    if not isinstance(safe, list | tuple) or len(safe) != spec.action_dim:
        raise InputError(f"safe action {safe!r} must list {spec.action_dim} entries (numbers or null = hold)")
    return [None if v is None else float(v) for v in safe]


def _as_source(source: Any, which: str) -> PolicySource:
    if isinstance(source, PolicySource):
        return source
    if isinstance(source, str | Path):
        return load_source(source, which=which)
    raise InputError(
        f"source must be a run dir, a model .zip or a robot_rl.runs.LoadedRun; got {type(source)}"
    )


def _check_out_dir(out: Path) -> None:
    """Refuse an ``out`` that holds something other than a bundle (checked before any work)."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").is_file())):
        raise InputError(f"{out} exists and is not an exported bundle; choose an empty or new --out dir")


def _staging_dir(out: Path) -> Path:
    """A new empty directory next to ``out`` (same filesystem, so the final rename is atomic)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))


def _replace_dir(tmp: Path, out: Path) -> None:
    """Move the finished bundle ``tmp`` to ``out``; a previous bundle there is removed only after.

    A failed export therefore never leaves a half-written bundle, and an old bundle survives a
    failed re-export.
    """
    _check_out_dir(out)
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        old.rmdir()
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _make_env(env_id: str, env_kwargs: dict[str, Any]) -> Any:
    from robot_rl.envs.make import make_env

    return make_env(env_id, **env_kwargs)


def write_onnx(module: Any, spec: PolicySpec, path: Path) -> None:
    """Legacy (TorchScript-based) ONNX exporter into one file; checks and scans the result."""
    import onnx
    import torch

    from robot_rl.deploy.graph import example_inputs

    names = [i.name for i in spec.inputs]
    axes = {n: {0: "batch"} for n in [*names, "action"]}
    # The legacy exporter is deliberate: the dynamo exporter needs onnxscript (not a dependency).
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            module,
            example_inputs(spec),
            str(path),
            input_names=names,
            output_names=["action"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    random_ops = sorted({n.op_type for n in model.graph.node} & RANDOM_OPS)
    if random_ops:
        raise InputError(f"exported graph contains random ops {random_ops}; the deterministic path must not")
    from onnx.external_data_helper import uses_external_data

    external = [t.name for t in model.graph.initializer if uses_external_data(t)]
    if external:
        raise InputError(
            f"ONNX export put tensors {external} in external data; expected one self-contained file"
        )


def write_torchscript(module: Any, spec: PolicySpec, path: Path) -> None:
    """``torch.jit.trace`` of the same module (no data-dependent control flow to lose)."""
    import torch

    from robot_rl.deploy.graph import example_inputs

    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*", category=DeprecationWarning)
        traced = torch.jit.trace(module, example_inputs(spec, batch=2))
    traced.save(str(path))


def load_torchscript(path: Path) -> Any:
    """``torch.jit.load`` on CPU, without torch 2.13's TorchScript deprecation warning.

    TorchScript is deprecated in favour of ``torch.export``, but it is still the format C++
    (libtorch) controllers load, which is why the bundle ships it.
    """
    import torch

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*deprecated.*", category=DeprecationWarning)
        return torch.jit.load(str(path), map_location="cpu")


def _env_layouts(env: Any, spec: PolicySpec) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Any]:
    """(per-input rows, action layout rows, discrete table or None) from the env or its spaces."""
    base = env.unwrapped
    named = base.input_layouts() if hasattr(base, "input_layouts") else {}
    inputs = []
    for inp in spec.inputs:
        layout = None
        if inp.name in named and named[inp.name].size == inp.size:
            layout = named[inp.name].to_dict()
        elif inp.name in ("obs", "observation") and hasattr(base, "obs_layout"):
            layout = base.obs_layout.to_dict()
        elif inp.name in ("achieved_goal", "desired_goal") and hasattr(
            getattr(base, "task", None), "goal_layout"
        ):
            layout = base.task.goal_layout.to_dict()
        if layout is None and inp.image is not None:
            layout = image_layout(inp)
        if layout is None:
            layout = generic_layout(inp.name, inp.size, inp.low.tolist(), inp.high.tolist())
        row: dict[str, Any] = {"name": inp.name, "size": inp.size, "dtype": "float32", "layout": layout}
        if inp.shape is not None:
            row["shape"] = list(inp.shape)  # fed flat (size entries, row-major), reshaped in the graph
        inputs.append(row)
    if hasattr(base, "action_layout"):
        act_layout = base.action_layout.to_dict()
    else:
        if spec.postprocess == "argmax":
            act_layout = generic_layout("action", 1, [0.0], [float(spec.n_actions - 1)])
        else:
            act_layout = generic_layout(
                "action", spec.action_dim, spec.action_low.tolist(), spec.action_high.tolist()
            )
    table = getattr(base, "_discrete_actions", None)
    return inputs, act_layout, None if table is None else np.asarray(table).tolist()


def image_layout(inp: InputSpec) -> list[dict[str, Any]]:
    """Layout row of an image input: one field, ``C*H*W`` entries in row-major order, metres."""
    assert inp.image is not None and inp.shape is not None
    low, high = np.unique(inp.low), np.unique(inp.high)
    near, far = inp.image.near, inp.image.far
    clip = "" if near is None else f"; the policy clips it to [{near:g}, {far:g}] m and scales it to [0, 1]"
    return [
        {
            "name": inp.name,
            "unit": "m",
            "size": inp.size,
            "start": 0,
            "stop": inp.size,
            "low": float(low[0]) if low.size == 1 and np.isfinite(low[0]) else None,
            "high": float(high[0]) if high.size == 1 and np.isfinite(high[0]) else None,
            "description": (
                f"depth image of shape {list(inp.shape)} (channels, rows, columns) flattened row-major: "
                f"entry index = (c * {inp.shape[1]} + row) * {inp.shape[2]} + column{clip}; "
                "NaN or Inf pixels are faults (the safety filter sends the safe action)"
            ),
        }
    ]


def camera_contract(env: Any) -> dict[str, Any] | None:
    """``env.unwrapped.camera_contract()`` (what the robot's camera must deliver), or ``None``.

    ``None`` also when the env has the method but no camera in this mode (the grasp env in state mode).

    Raises:
        InputError: the method exists but does not return a JSON object of finite values.
    """
    method = getattr(env.unwrapped, "camera_contract", None)
    if not callable(method):
        return None
    contract = method()
    if contract is None:
        return None
    try:
        if not isinstance(contract, dict):
            raise TypeError(f"got {type(contract).__name__}")
        json.dumps(contract, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"{type(env.unwrapped).__name__}.camera_contract() must return a JSON object (dict of "
            f"numbers, strings, lists) with finite numbers; {exc}"
        ) from None
    return contract


def _control_period(env: Any) -> float | None:
    dt = getattr(env.unwrapped, "dt", None)
    if dt is None:
        fps = env.metadata.get("render_fps")
        dt = 1.0 / fps if fps else None
    return None if dt is None else float(dt)


def build_manifest(
    spec: PolicySpec, src: PolicySource, env: Any, formats: tuple[str, ...], rows: int
) -> dict[str, Any]:
    """Everything but the file hashes (added by :func:`write_manifest`)."""
    inputs, act_layout, table = _env_layouts(env, spec)
    discrete = spec.postprocess == "argmax"
    action: dict[str, Any] = {
        "type": "discrete" if discrete else "box",
        "size": spec.action_dim,
        "dtype": "int64" if discrete else "float32",
        "layout": act_layout,
        "meaning": "index into discrete_actions" if discrete else "vector passed to env.step",
    }
    if discrete:
        action.update(n=spec.n_actions, discrete_actions=table)
    else:
        action.update(low=spec.action_low.tolist(), high=spec.action_high.tolist())
    normalization = {
        i.name: {"mean": i.mean.tolist(), "var": i.var.tolist(), "epsilon": i.epsilon, "clip_obs": i.clip_obs}
        for i in spec.inputs
        if i.mean is not None and i.var is not None
    }
    return {
        "schema": SCHEMA,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "env": {"id": src.env_id, "kwargs": src.env_kwargs, "control_period_s": _control_period(env)},
        "algo": src.algo,
        "num_timesteps": src.num_timesteps,
        "eval": src.eval,
        "observation": {"inputs": inputs, "flat_size": spec.obs_dim},
        "action": action,
        "normalization": normalization,
        "postprocess": spec.postprocess,
        "formats": list(formats),
        "onnx": {
            "file": "policy.onnx",
            "opset": OPSET,
            "inputs": [i["name"] for i in inputs],
            "outputs": ["action"],
        },
        "golden": {"file": "golden.npz", "rows": rows},
        # the features extractor's settings (None: SB3's flatten extractors) and the camera contract
        "features_extractor": spec.extractor,
        "camera": camera_contract(env),
        # Where the policy came from, for people; nothing on the robot side or in verify reads it.
        "provenance": {"run_dir": str(src.run_dir.resolve()), "model_path": str(src.model_path.resolve())},
        "versions": runs.versions(),  # one source of truth with the run's versions.json
        "git_commit": runs.git_commit(),
    }
