"""What ``robot-rl evaluate`` and ``robot-rl bench fidelity`` evaluate: a run or an exported bundle.

A run directory or model ``.zip`` loads the SB3 model with the run's ``VecNormalize`` statistics; a
bundle (a directory holding ``manifest.json``, or a pretrained ``zoo:NAME``) runs its own ONNX
policy through :class:`~robot_rl.deploy.runtime.PolicyRunner`, what a robot runs, on the env the
manifest names. One loader for both commands, so a policy means the same thing in each.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class EvalSource:
    """What to evaluate: a policy with SB3's ``predict`` and where it came from.

    Attributes:
        model: An SB3 model, or a :class:`~robot_rl.deploy.runtime.PolicyRunner` for a bundle.
        env_id: The env it was trained on.
        info: ``run.json`` (or, for a bundle, ``{"env_kwargs": manifest env kwargs}``).
        vecnormalize: The run's ``VecNormalize`` (None for a bundle: it is inside the graph).
        label: What the summary records as ``model`` (model zip, or the bundle's ONNX file).
        num_timesteps: Training steps of the model (None if unknown).
        out_dir: Default directory of the CSV and JSON.
        extra: Summary fields that describe the source (bundle, manifest hash, policy runtime).
    """

    model: Any
    env_id: str
    info: dict[str, Any]
    vecnormalize: Any
    label: str
    num_timesteps: int | None
    out_dir: Path
    extra: dict[str, Any]


def is_bundle(source: str) -> bool:
    """Whether ``source`` names an exported bundle: ``zoo:NAME`` or a directory with manifest.json."""
    from robot_rl.zoo import is_zoo_name

    return is_zoo_name(source) or (Path(source) / "manifest.json").is_file()


def load_source(source: str, which: str = "best") -> EvalSource:
    """Load a run/model (SB3) or a bundle / ``zoo:NAME`` (ONNX through PolicyRunner).

    Raises:
        FileNotFoundError: unknown pretrained name (listing the names), missing run or bundle.
        ValueError: a bundle that fails its hash or ONNX checks.
    """
    if is_bundle(source):
        # the deploy runtime needs numpy + onnxruntime only; imported here, for bundles alone
        from robot_rl.deploy.runtime import PolicyRunner
        from robot_rl.zoo import is_zoo_name, resolve_bundle

        bundle = resolve_bundle(source)
        runner = PolicyRunner(bundle)  # refuses modified, missing or unlisted files
        env = runner.manifest["env"]
        name = source.removeprefix("zoo:") if is_zoo_name(source) else bundle.resolve().name
        manifest_bytes = (bundle / "manifest.json").read_bytes()
        return EvalSource(
            model=runner,
            env_id=str(env["id"]),
            info={"env_kwargs": dict(env.get("kwargs", {}))},
            vecnormalize=None,
            label=str(bundle / runner.manifest.get("onnx", {}).get("file", "policy.onnx")),
            num_timesteps=runner.manifest.get("num_timesteps"),
            out_dir=Path("runs") / "eval" / name,
            extra={
                "source": source,
                "policy": "bundle ONNX (robot_rl.deploy.runtime.PolicyRunner)",
                "bundle": str(bundle),
                "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            },
        )
    from robot_rl.runs import load_run

    loaded = load_run(Path(source), which=which)
    return EvalSource(
        model=loaded.model,
        env_id=loaded.env_id,
        info=loaded.info,
        vecnormalize=loaded.vecnormalize,
        label=str(loaded.model_path),
        num_timesteps=loaded.num_timesteps,
        out_dir=loaded.run_dir / "eval",
        extra={},
    )


__all__ = ["EvalSource", "is_bundle", "load_source"]
