"""Frozen episode sets: written, read back, digest-checked, replayed bit for bit; shipped sets load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from robot_rl.envs.commands_episodes import freeze
from robot_rl.envs.nav_env import MobileNavEnv
from robot_rl.envs.nav_episodes import (
    digest_of,
    episodes_with_map,
    load_set,
    make_set,
    record_from_reset,
    shipped_sets,
    write_set,
)
from robot_rl.errors import InputError, MissingInputError

ACTION = np.array([0.6, 0.4], np.float32)


def _rollout(env: MobileNavEnv, steps: int = 15) -> np.ndarray:
    return np.array([env.step(ACTION)[0] for _ in range(steps)])


def test_a_frozen_episode_replays_the_sampled_reset_bit_for_bit() -> None:
    env = MobileNavEnv(split="test")
    try:
        for seed in (2_000_000, 2_000_007):
            obs, info = env.reset(seed=seed)
            record = record_from_reset("t-0", seed, info)
            first = _rollout(env)
            for _ in range(2):  # the replay itself is repeatable, whatever ran before
                obs2, info2 = env.reset(seed=seed, options={"episode": record})
                assert np.array_equal(obs, obs2)
                assert np.array_equal(first, _rollout(env))
                assert info2["geodesic_distance"] == record["geodesic_distance"]
                assert info2["layout_seed"] == record["layout_seed"]
                assert info2["start_yaw"] == record["start_yaw"]
    finally:
        env.close()


def test_the_file_round_trips_and_its_digest_catches_edits(tmp_path: Path) -> None:
    data = freeze("robot_rl/MobileNav-v0", {"split": "val"}, 3, 1_000_000, "v")
    path = write_set(data, tmp_path / "v.json")
    loaded = load_set(path)
    assert loaded == data and loaded["digest"] == digest_of(data)
    assert [ep["id"] for ep in loaded["episodes"]] == ["v-0000", "v-0001", "v-0002"]
    assert [ep["seed"] for ep in loaded["episodes"]] == [1_000_000, 1_000_001, 1_000_002]
    assert all(1_000_000 <= ep["layout_seed"] < 1_100_000 for ep in loaded["episodes"])
    edited = json.loads(path.read_text())
    edited["episodes"][1]["goal"][0] += 0.1
    path.write_text(json.dumps(edited))
    with pytest.raises(InputError, match="digest mismatch"):
        load_set(path)
    path.write_text(path.read_text().replace("1000001", "NaN", 1))
    with pytest.raises(InputError, match="strict JSON; NaN"):
        load_set(path)
    with pytest.raises(MissingInputError, match="neither a file nor a shipped set"):
        load_set(tmp_path / "nope.json")


def test_a_replay_that_does_not_match_the_record_is_refused() -> None:
    env = MobileNavEnv(split="test")
    try:
        _, info = env.reset(seed=2_000_001)
        record = record_from_reset("t-1", 2_000_001, info)
        with pytest.raises(InputError, match=r"replayed geodesic .* differs from the recorded"):
            env.reset(
                options={"episode": {**record, "geodesic_distance": record["geodesic_distance"] + 0.01}}
            )
        with pytest.raises(InputError, match="outside the split"):
            env.reset(options={"episode": {**record, "layout_seed": 5}})
        with pytest.raises(InputError, match="start must be"):
            env.reset(options={"episode": {**record, "start": [0.0]}})
        with pytest.raises(InputError, match="is a map episode"):
            env.reset(options={"episode": {**record, "layout_seed": None}})
    finally:
        env.close()


def test_map_episodes_carry_the_map_hash_and_refuse_another_map() -> None:
    data = freeze("robot_rl/MobileNav-v0", {"split": "test", "map": "office"}, 2, 7, "o")
    assert data["map"]["name"] == "office" and len(data["map"]["sha256"]) == 64
    assert all(ep["layout_seed"] is None for ep in data["episodes"])
    records = episodes_with_map(data)
    env = MobileNavEnv(split="test", map="office")
    try:
        obs, _ = env.reset(seed=7)
        obs2, info = env.reset(seed=7, options={"episode": records[0]})
        assert np.array_equal(obs, obs2) and info["map_sha256"] == data["map"]["sha256"]
        with pytest.raises(InputError, match="frozen on a map with SHA-256"):
            env.reset(options={"episode": {**records[0], "map_sha256": "0" * 64}})
    finally:
        env.close()
    env = MobileNavEnv(split="test")
    try:
        with pytest.raises(InputError, match=r"this env runs on a map|is a map episode"):
            env.reset(options={"episode": records[0]})
    finally:
        env.close()


def test_shipped_sets_load_and_match_their_splits() -> None:
    sets = shipped_sets()
    assert set(sets) == {"val", "test", "hard", "office", "apartment", "warehouse"}
    expected = {"val": (100, "val"), "test": (200, "test"), "hard": (200, "test")}
    for name, (n, split) in expected.items():
        data = load_set(name)
        assert len(data["episodes"]) == n and data["env_kwargs"]["split"] == split
        assert len({ep["id"] for ep in data["episodes"]}) == n
    assert load_set("hard")["env_kwargs"]["difficulty"] == "hard"
    test_layouts = {ep["layout_seed"] for ep in load_set("test")["episodes"]}
    val_layouts = {ep["layout_seed"] for ep in load_set("val")["episodes"]}
    assert not test_layouts & val_layouts
    for name in ("office", "apartment", "warehouse"):
        data = load_set(name)
        assert data["env_kwargs"]["map"] == name and len(data["episodes"]) == 100


def test_make_set_digest_is_stable_and_content_sensitive() -> None:
    ep = {
        "id": "a",
        "seed": 1,
        "layout_seed": 2,
        "start": [0.0, 0.0],
        "start_yaw": 0.5,
        "goal": [1.0, 1.0],
        "geodesic_distance": 1.5,
    }
    a = make_set("s", "robot_rl/MobileNav-v0", {"split": "test"}, [ep])
    assert a["digest"] == make_set("s", "robot_rl/MobileNav-v0", {"split": "test"}, [dict(ep)])["digest"]
    assert (
        a["digest"]
        != make_set("s", "robot_rl/MobileNav-v0", {"split": "test"}, [{**ep, "seed": 2}])["digest"]
    )
    assert a["digest"].startswith("sha256:") and len(a["digest"]) == 7 + 64


def test_the_episodes_verb_writes_a_loadable_set(tmp_path: Path, capsys) -> None:
    from robot_rl.cli import main

    out = tmp_path / "mine.json"
    args = ["episodes", "robot_rl/MobileNav-v0", "--map", "warehouse", "--n", "3", "--out", str(out)]
    assert main(args) == 0
    data = load_set(out)
    assert data["name"] == "mine" and data["env_kwargs"] == {"split": "test", "map": "warehouse"}
    assert [ep["seed"] for ep in data["episodes"]] == [2_000_000, 2_000_001, 2_000_002]
    assert data["digest"] in capsys.readouterr().out
    # the shipped warehouse set was made by the same command: its first episodes are these
    assert load_set("warehouse")["episodes"][:3] == [
        {**ep, "id": f"warehouse-{i:04d}"} for i, ep in enumerate(data["episodes"])
    ]
    assert main(["episodes", "robot_rl/PandaGrasp-v0", "--out", str(out)]) == 2
    assert "for navigation envs" in capsys.readouterr().err
