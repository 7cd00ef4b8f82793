"""Robot-side policy runtime: numpy + onnxruntime only (no torch, SB3, PyBullet or pickle).

:class:`PolicyRunner` opens an exported bundle, and before loading anything:

* checks every file's SHA-256 against ``manifest.json`` (a modified or partial copy is refused)
  and that every listed path is relative, inside the bundle, and no symlink;
* with ``trusted_keys``, checks the Ed25519 signature ``manifest.sig`` (an unsigned bundle, a
  signature by an untrusted key or a manifest modified after signing is refused);
* scans ``policy.onnx`` and refuses external-data tensors and custom operator domains;
* creates an ONNX Runtime session with one intra-op and one inter-op thread (predictable
  latency on a robot computer that also runs drivers), sequential execution, CPU provider.

``runner.act(obs)`` takes the raw observation the env/robot produces (a float array, or a dict
of arrays for goal envs) and returns the action the env accepts (float32 vector, or an ``int``
index for discrete actions). Normalization and action scaling live inside the graph.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from robot_rl.deploy.manifest import check_hashes, path_problems, read_manifest
from robot_rl.deploy.onnx_scan import RANDOM_OPS, scan_onnx
from robot_rl.deploy.signing import check_signature
from robot_rl.errors import InputError, MissingInputError


class BundleError(InputError):
    """The bundle failed an integrity or safety check; the message lists every problem."""


def check_onnx_bytes(data: bytes) -> list[str]:
    """Problems that make an ONNX file unacceptable on the robot (empty list = acceptable)."""
    try:
        scan = scan_onnx(data)
    except ValueError as exc:
        return [str(exc)]
    problems = []
    if scan.external_tensors:
        problems.append(
            f"external-data tensors {scan.external_tensors[:5]} (the graph must be one self-contained file)"
        )
    if scan.custom_domains:
        problems.append(
            f"custom operator domains {sorted(scan.custom_domains)} (only standard ONNX ops are accepted)"
        )
    if scan.n_functions:
        problems.append(f"{scan.n_functions} model-local functions (only standard ONNX ops are accepted)")
    random_ops = sorted(scan.op_types & RANDOM_OPS)
    if random_ops:
        problems.append(f"random ops {random_ops} (the exported policy must be deterministic)")
    return problems


def make_session(data: bytes) -> ort.InferenceSession:
    """ONNX Runtime CPU session with 1 intra-op and 1 inter-op thread."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


class PolicyRunner:
    """Run an exported policy with ONNX Runtime (see module docstring).

    Args:
        bundle: Bundle directory (``manifest.json`` + ``policy.onnx``).
        verify_hashes: Check every file's SHA-256 (leave on; off only for benchmarks of a
            bundle just verified).
        trusted_keys: Ed25519 public keys (PEM paths or loaded keys); when given, the bundle
            must be signed by one of them (``robot-rl export --sign``).

    Raises:
        FileNotFoundError: no manifest or no ``policy.onnx``.
        BundleError: hash mismatch, external data, custom domains or inconsistent manifest.
    """

    def __init__(
        self,
        bundle: str | os.PathLike[str],
        verify_hashes: bool = True,
        trusted_keys: Sequence[Any] | None = None,
    ) -> None:
        self.bundle = Path(bundle)
        self.manifest = read_manifest(self.bundle)
        problems = check_signature(self.bundle, trusted_keys) if trusted_keys is not None else []
        problems += check_hashes(self.bundle, self.manifest) if verify_hashes else []
        onnx_rel = str(self.manifest.get("onnx", {}).get("file", "policy.onnx"))
        bad_path = path_problems(self.bundle, onnx_rel)
        if bad_path:
            raise BundleError(f"refusing bundle {self.bundle}:\n  " + "\n  ".join(problems + bad_path))
        onnx_path = self.bundle / onnx_rel
        if not onnx_path.exists():
            raise MissingInputError(f"{onnx_path} not found: the bundle was exported without the onnx format")
        data = onnx_path.read_bytes()
        problems += [f"policy.onnx: {p}" for p in check_onnx_bytes(data)]
        if problems:
            raise BundleError(f"refusing bundle {self.bundle}:\n  " + "\n  ".join(problems))
        self.session = make_session(data)
        self.input_specs = [(i["name"], int(i["size"])) for i in self.manifest["observation"]["inputs"]]
        self.input_names = [name for name, _ in self.input_specs]
        self.discrete = self.manifest["action"]["type"] == "discrete"
        self._check_graph_io()
        self._feed: dict[str, NDArray[np.float32]] = {
            n: np.zeros((1, s), np.float32) for n, s in self.input_specs
        }

    def _check_graph_io(self) -> None:
        graph_inputs = {i.name: i.shape for i in self.session.get_inputs()}
        expected = {n: s for n, s in self.input_specs}
        if set(graph_inputs) != set(expected):
            raise BundleError(
                f"graph inputs {sorted(graph_inputs)} differ from manifest inputs {sorted(expected)}"
            )
        for name, shape in graph_inputs.items():
            if shape[-1] != expected[name]:
                raise BundleError(
                    f"graph input {name!r} has {shape[-1]} entries, manifest says {expected[name]}"
                )
        outputs = [o.name for o in self.session.get_outputs()]
        if outputs != ["action"]:
            raise BundleError(f"graph outputs {outputs} differ from the manifest's ['action']")

    @property
    def obs_size(self) -> int:
        """Entries of the flat observation (all inputs concatenated in manifest order)."""
        return sum(s for _, s in self.input_specs)

    @property
    def control_period_s(self) -> float:
        """Control period the policy was trained at (seconds)."""
        return float(self.manifest["env"]["control_period_s"])

    @property
    def policy_hz(self) -> float:
        """The rate the policy was trained at and must run at (Hz)."""
        return 1.0 / self.control_period_s

    def split(self, flat: NDArray[Any]) -> dict[str, NDArray[np.float32]]:
        """Flat observation (manifest order) -> ``{input name: (size,) array}``."""
        arr = np.asarray(flat, np.float32).reshape(-1)
        if arr.size != self.obs_size:
            raise InputError(f"flat observation needs {self.obs_size} entries, got {arr.size}")
        out, start = {}, 0
        for name, size in self.input_specs:
            out[name] = arr[start : start + size]
            start += size
        return out

    def act(self, obs: NDArray[Any] | dict[str, NDArray[Any]]) -> NDArray[np.float32] | int:
        """One action for one raw observation (array for flat inputs, dict for named inputs).

        Raises:
            ValueError: wrong keys or sizes. NaN/Inf pass through to the output (the
                :class:`~robot_rl.deploy.safety.SafetyFilter` handles them).
        """
        values = obs if isinstance(obs, dict) else {self.input_names[0]: obs}
        if len(self.input_names) > 1 and not isinstance(obs, dict):
            values = self.split(obs)
        for name, size in self.input_specs:
            if name not in values:
                raise InputError(f"observation lacks input {name!r}; inputs are {self.input_names}")
            arr = np.asarray(values[name], np.float32).reshape(-1)
            if arr.size != size:
                raise InputError(f"observation input {name!r} needs {size} entries, got {arr.size}")
            self._feed[name][0] = arr
        (action,) = self.session.run(None, self._feed)
        if self.discrete:
            return int(action[0])
        return np.asarray(action[0], np.float32)

    def predict(
        self, obs: NDArray[Any] | dict[str, NDArray[Any]], deterministic: bool = True
    ) -> tuple[NDArray[np.float32] | int, None]:
        """SB3's ``predict`` signature over :meth:`act`, so evaluation code runs a bundle like a model.

        Raises:
            ValueError: ``deterministic=False``: the exported graph holds the deterministic
                action only (the mean, or the argmax), there is nothing to sample.
        """
        if not deterministic:
            raise InputError(
                "an exported bundle holds the deterministic policy only; stochastic actions are not available"
            )
        return self.act(obs), None

    def act_batch(self, inputs: dict[str, NDArray[Any]]) -> NDArray[Any]:
        """Actions for a batch: ``inputs[name]`` has shape ``(n, size)``."""
        feed = {n: np.ascontiguousarray(inputs[n], dtype=np.float32) for n in self.input_names}
        return np.asarray(self.session.run(None, feed)[0])
