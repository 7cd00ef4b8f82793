"""DAgger: a privileged teacher distilled into a student that sees only what the robot senses.

Learning by cheating (Chen et al. 2019; Isaac Lab / rsl_rl ``Distillation``): the *student* is the
SB3 policy being trained (for the depth grasp: ``MultiInputPolicy`` with
:class:`robot_rl.nets.DepthCnnExtractor` on ``{"depth", "proprio"}``); the *teacher* acts on the
privileged state the simulator knows (the object's pose), which the env hands out through
``env.unwrapped.privileged_observation()`` with layout ``env.unwrapped.state_layout``.

Each iteration ``i`` (Ross et al. 2011):

1. roll out ``steps_per_iteration`` env steps; at every step the teacher labels the visited state
   with its action, and the executed action is the teacher's with probability
   ``beta_i = beta_decay ** i`` (so iteration 0 follows the teacher), else the student's;
2. add ``(student observation, teacher action)`` to the aggregated dataset (the newest
   ``max_samples`` are kept; depth is stored as uint16 millimetres, as a 16UC1 image would be);
3. train the student by backpropagation on the whole dataset: MSE between the policy's action
   mean and the teacher's action (the seeds' "backprop on a target"), ``epochs`` passes;
4. evaluate the student alone on held-out episodes (seeds from ``train.eval_seed``), keep the best
   model, and checkpoint model, dataset and iteration, so ``robot-rl train --resume`` continues.

The teacher is any ``module:Class`` with ``Class(state_layout)``, ``reset()`` and
``__call__(privileged_obs) -> action`` (the shipped scripted grasp controller is one).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from robot_rl import runs as rd
from robot_rl.errors import InputError
from robot_rl.train.config import Config
from robot_rl.train.demos import load_controller_class

DAGGER_DIR = "dagger"
STATE_JSON = "state.json"
DATASET = "dataset.npz"
MODEL = "model.zip"


class Dataset:
    """The aggregated ``(observation, teacher action)`` pairs, newest ``capacity`` kept.

    Dict observations keep one array per key; float images (``ndim >= 3`` per sample) are stored
    as uint16 millimetres (0 = no measurement) to hold 4x more samples in the same memory.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self.obs: dict[str, list[np.ndarray]] = {}
        self.actions: list[np.ndarray] = []

    def __len__(self) -> int:
        """Pairs kept for training (at most ``capacity``; chunks are dropped whole, so a few more
        may be held until the oldest chunk is entirely surplus)."""
        return min(self._held(), self.capacity)

    def _held(self) -> int:
        return int(sum(len(a) for a in self.actions))

    def add(self, obs: dict[str, np.ndarray], actions: np.ndarray) -> None:
        for key, value in obs.items():
            self.obs.setdefault(key, []).append(_encode(value))
        self.actions.append(np.asarray(actions, np.float32))
        while self._held() - len(self.actions[0]) >= self.capacity:
            self.actions.pop(0)
            for parts in self.obs.values():
                parts.pop(0)

    def arrays(self) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """All pairs as ``(obs per key (decoded, float32), actions)``, newest ``capacity`` of them."""
        obs = {k: _decode(np.concatenate(v))[-self.capacity :] for k, v in self.obs.items()}
        return obs, np.concatenate(self.actions)[-self.capacity :]

    def save(self, path: Path) -> None:
        obs, actions = self.arrays()
        tmp = path.with_suffix(".tmp.npz")
        arrays: dict[str, Any] = {f"obs_{k}": _encode(v) for k, v in obs.items()}
        np.savez(tmp, actions=actions, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, capacity: int) -> Dataset:
        out = cls(capacity)
        with np.load(path) as data:
            obs = {k[4:]: data[k] for k in data.files if k.startswith("obs_")}
            if "actions" in data.files and len(data["actions"]):
                out.obs = {k: [v] for k, v in obs.items()}
                out.actions = [data["actions"]]
        return out


def _encode(value: np.ndarray) -> np.ndarray:
    value = np.asarray(value)
    if value.ndim >= 4 and value.dtype != np.uint16:  # (n, C, H, W) float depth in metres
        return np.clip(np.nan_to_num(value * 1000.0), 0, 65535).round().astype(np.uint16)
    return value


def _decode(value: np.ndarray) -> np.ndarray:
    if value.dtype == np.uint16:
        return value.astype(np.float32) / 1000.0
    return value.astype(np.float32)


def _as_dict(obs: Any) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in obs.items()} if isinstance(obs, dict) else {"obs": np.asarray(obs)}


def _from_dict(obs: dict[str, np.ndarray]) -> Any:
    return obs["obs"] if list(obs) == ["obs"] else obs


class BundleTeacher:
    """A privileged teacher from an exported bundle of a *state* policy (e.g. ``zoo:grasp_ppo``).

    Runs the bundle's TorchScript policy (``policy.pt``: raw observation in, deterministic action
    out, normalization inside) on the env's privileged state observation. The bundle's
    observation layout must name the same fields as the env's state layout, in the same order.

    Raises:
        InputError: no ``manifest.json`` / ``policy.pt`` there, or a layout that differs (named).
    """

    def __init__(self, bundle: Path, state_layout: Any) -> None:
        import torch

        manifest_path, policy = bundle / "manifest.json", bundle / "policy.pt"
        if not manifest_path.is_file() or not policy.is_file():
            raise InputError(
                f"distill.teacher: {bundle} is not an exported bundle with a TorchScript policy (needs "
                "manifest.json and policy.pt; robot-rl export RUN --out DIR writes both)"
            )
        manifest = json.loads(manifest_path.read_text())
        inputs = manifest["observation"]["inputs"]
        names = [f["name"] for f in inputs[0].get("layout", [])] if len(inputs) == 1 else []
        if names != list(state_layout.names) or int(inputs[0]["size"]) != state_layout.size:
            raise InputError(
                f"distill.teacher: the bundle {bundle} observes {names or [i['name'] for i in inputs]}, but "
                f"the env's privileged state is {list(state_layout.names)}; use a state policy of this env"
            )
        self.module = torch.jit.load(str(policy), map_location="cpu")
        self.module.eval()

    def reset(self) -> None:
        """A policy has no episode state."""

    def __call__(self, state: Any) -> np.ndarray:
        import torch

        with torch.no_grad():
            x = torch.as_tensor(np.asarray(state, np.float32).reshape(1, -1))
            return self.module(x)[0].numpy().astype(np.float32)


def teacher_bundle(spec: str) -> Path | None:
    """The bundle directory ``spec`` names (``zoo:NAME`` or a directory), or ``None`` for ``module:Class``."""
    from robot_rl.zoo import is_zoo_name, resolve_bundle

    if is_zoo_name(spec):
        return resolve_bundle(spec)
    path = Path(spec).expanduser()
    return path if path.is_dir() else None


def make_teachers(spec: str, venv: Any) -> list[Any]:
    """One teacher per env of ``venv``, built from the env's privileged state layout.

    ``spec`` is ``module:Class`` (``Class(state_layout)``), ``zoo:NAME`` or a bundle directory
    (:class:`BundleTeacher`).
    """
    layouts = venv.get_attr("state_layout")
    bundle = teacher_bundle(spec)
    if bundle is not None:
        return [BundleTeacher(bundle, layout) for layout in layouts]
    cls = load_controller_class(spec)
    return [cls(layout) for layout in layouts]


def _check_finite(privileged: Any, teacher: np.ndarray, student: np.ndarray, obs: Any) -> None:
    """Stop with what was not finite (state, teacher label or student action) instead of stepping NaN."""
    if np.isfinite(teacher).all() and np.isfinite(student).all():
        return
    parts = _as_dict(obs)
    for k in range(len(teacher)):
        what = {
            "privileged state": np.asarray(privileged[k]),
            "teacher action": teacher[k],
            "student action": student[k],
            **{f"observation {name}": np.asarray(v[k]) for name, v in parts.items()},
        }
        bad = {
            name: np.flatnonzero(~np.isfinite(v.astype(np.float64))).tolist()[:8] for name, v in what.items()
        }
        bad = {name: idx for name, idx in bad.items() if idx}
        if bad:
            raise RuntimeError(
                f"DAgger env {k}: non-finite entries {bad}; "
                f"privileged state {np.round(what['privileged state'], 4)}"
            )


def run_dagger(
    cfg: Config,
    model: Any,
    run: Path,
    evaluate: Callable[[Any], dict[str, Any]],
    log: Callable[[str], None] = print,
    stop: Callable[[dict[str, Any]], bool] = lambda summary: False,
) -> dict[str, Any]:
    """Distill ``cfg.distill.teacher`` into ``model.policy`` (resuming from ``run/dagger``).

    Args:
        cfg: The run's config (``distill`` section; ``env.normalize`` must be off).
        model: The SB3 learner whose policy is the student; its env is the rollout env.
        run: Run directory (``dagger/`` holds the checkpoint).
        evaluate: Evaluates the student alone on held-out episodes and returns the summary
            (``success_rate``, ...).
        log: Where progress lines go.
        stop: Called with each evaluation's summary; True ends DAgger after that iteration
            (``train.stop_on_success``: the student reached the threshold). The state then says
            ``stopped_on_success`` and a resume does not continue DAgger.

    Returns:
        ``{"iterations", "samples", "history", "stopped_on_success", "timing": {rollout_s,
        label_s, gradient_s, eval_s}}``.
    """
    import torch
    import torch.nn.functional as F

    d = cfg.distill
    folder = run / DAGGER_DIR
    folder.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {"iteration": 0, "num_timesteps": 0, "history": [], "best_success": -1.0}
    state["timing"] = {"rollout_s": 0.0, "label_s": 0.0, "gradient_s": 0.0, "eval_s": 0.0}
    dataset = Dataset(d.max_samples)
    if (folder / STATE_JSON).is_file():
        state = json.loads((folder / STATE_JSON).read_text())
        if (folder / DATASET).is_file():
            dataset = Dataset.load(folder / DATASET, d.max_samples)
        log(f"[dagger] resuming at iteration {state['iteration']} with {len(dataset)} labelled samples")
    venv = model.get_env()
    if model.get_vec_normalize_env() is not None:
        raise InputError("distill needs env.normalize.enabled=false (the depth network scales its own input)")
    teachers = make_teachers(d.teacher, venv)
    policy = model.policy
    optimizer = torch.optim.Adam(policy.parameters(), lr=d.learning_rate)
    rng = np.random.default_rng(cfg.train.seed + 7919 * int(state["iteration"]))
    gen = torch.Generator().manual_seed(cfg.train.seed + int(state["iteration"]))
    obs = venv.reset()
    for teacher in teachers:
        teacher.reset()
    n_envs = venv.num_envs
    timing = state["timing"]
    while state["iteration"] < d.iterations and not state.get("stopped_on_success"):
        i = int(state["iteration"])
        beta = d.beta_decay**i
        steps, successes, episodes = 0, 0, 0
        t0 = time.monotonic()
        label_s = 0.0
        while steps < d.steps_per_iteration:
            t_label = time.monotonic()
            privileged = venv.env_method("privileged_observation")
            teacher_actions = np.stack([teachers[k](privileged[k]) for k in range(n_envs)]).astype(np.float32)
            label_s += time.monotonic() - t_label
            student_actions, _ = model.predict(obs, deterministic=True)
            _check_finite(privileged, teacher_actions, student_actions, obs)
            follow_teacher = rng.random(n_envs) < beta
            actions = np.where(follow_teacher[:, None], teacher_actions, student_actions)
            dataset.add(_as_dict(obs), teacher_actions)
            obs, _, dones, infos = venv.step(actions)
            steps += n_envs
            for k in np.flatnonzero(dones):
                teachers[k].reset()
                episodes += 1
                successes += int(bool(infos[k].get("is_success", False)))
        timing["label_s"] += label_s
        timing["rollout_s"] += time.monotonic() - t0 - label_s
        state["num_timesteps"] += steps
        model.num_timesteps += steps

        t0 = time.monotonic()
        data_obs, data_act = dataset.arrays()
        obs_t = {k: torch.as_tensor(v, device=policy.device) for k, v in data_obs.items()}
        act_t = torch.as_tensor(data_act, device=policy.device)
        policy.set_training_mode(True)
        losses = []
        for _ in range(d.epochs):
            for idx in torch.randperm(len(act_t), generator=gen).split(d.batch_size):
                batch = _from_dict({k: v[idx] for k, v in obs_t.items()})  # type: ignore[misc]
                mean = policy.get_distribution(batch).distribution.mean
                loss = F.mse_loss(mean, act_t[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(float(loss.detach()))
        policy.set_training_mode(False)
        timing["gradient_s"] += time.monotonic() - t0

        t0 = time.monotonic()
        summary = evaluate(model)
        timing["eval_s"] += time.monotonic() - t0
        row = {
            "iteration": i,
            "beta": beta,
            "num_timesteps": int(model.num_timesteps),
            "samples": len(dataset),
            "rollout_success": successes / episodes if episodes else None,
            "imitation_loss_first": losses[0] if losses else None,
            "imitation_loss": float(np.mean(losses[-max(1, len(losses) // d.epochs) :])) if losses else None,
            "eval_success": summary["success_rate"],
            "elapsed_s": round(sum(timing.values()), 3),  # DAgger's rollouts, labels, gradients, evals so far
        }
        state["history"].append(row)
        if summary["success_rate"] > state["best_success"]:
            state["best_success"] = summary["success_rate"]
            model.save(run / rd.BEST_MODEL)
        log(
            f"[dagger] iteration {i + 1}/{d.iterations}: beta {beta:.2f}, {len(dataset)} samples, "
            f"imitation loss {row['imitation_loss']:.4f}, held-out success {summary['success_rate']:.2f}"
        )
        state["iteration"] = i + 1
        if stop(summary):
            state["stopped_on_success"] = True
            log(f"[dagger] held-out success reached the threshold: stopping after iteration {i + 1}")
        model.save(folder / MODEL)
        dataset.save(folder / DATASET)
        rd.write_json(folder / STATE_JSON, state)
    return {
        "iterations": state["iteration"],
        "samples": len(dataset),
        "history": state["history"],
        "stopped_on_success": bool(state.get("stopped_on_success")),
        "timing": {k: round(v, 3) for k, v in timing.items()},
    }
