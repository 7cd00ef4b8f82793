"""Frozen episode sets: written, read back, digest-checked, replayed bit for bit; shipped sets load."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
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


def _replays(env: MobileNavEnv, resets: list[dict]) -> list[tuple[np.ndarray, np.ndarray, dict]]:
    out = []
    for kwargs in resets:
        obs, info = env.reset(**kwargs)
        out.append((obs, _rollout(env, 8), info))
    return out


@pytest.mark.parametrize(
    ("name", "kwargs"), [("test", {"split": "test"}), ("office", {"map": "office", "split": "test"})]
)
def test_episodes_argument_replays_the_file_in_order_bit_for_bit(name: str, kwargs: dict) -> None:
    records = episodes_with_map(load_set(name))[:3]
    by_option = MobileNavEnv(**kwargs)
    by_file = gym.make("robot_rl/MobileNav-v0", episodes=name, disable_env_checker=True, **kwargs)
    try:
        expected = _replays(by_option, [{"seed": r["seed"], "options": {"episode": r}} for r in records])
        # a seed passed to reset picks nothing: the file's order and the record's seed do
        got = _replays(by_file, [{}, {"seed": 7}, {"seed": 123}])
        for record, (obs_a, roll_a, info_a), (obs_b, roll_b, info_b) in zip(
            records, expected, got, strict=True
        ):
            assert np.array_equal(obs_a, obs_b) and obs_a.tobytes() == obs_b.tobytes()
            assert roll_a.tobytes() == roll_b.tobytes()
            assert info_b["episode_id"] == info_a["episode_id"] == record["id"]
            assert list(info_b["start"]) == record["start"] and list(info_b["goal"]) == record["goal"]
            assert info_b["geodesic_distance"] == record["geodesic_distance"]
        sequence = by_file.unwrapped.episode_sequence
        assert (
            sequence.index == 3 and sequence.passes == 0 and len(sequence) == len(load_set(name)["episodes"])
        )
        # an explicit record is replayed without moving the sequence on
        by_file.reset(options={"episode": records[0]})
        assert by_file.reset()[1]["episode_id"] == load_set(name)["episodes"][3]["id"]
    finally:
        by_option.close()
        by_file.close()


def test_episodes_argument_wraps_after_the_last_episode(tmp_path: Path) -> None:
    path = write_set(
        freeze("robot_rl/MobileNav-v0", {"split": "val"}, 2, 1_000_000, "two"), tmp_path / "two.json"
    )
    env = MobileNavEnv(split="val", episodes=str(path))
    try:
        ids = [env.reset()[1]["episode_id"] for _ in range(5)]
        assert ids == ["two-0000", "two-0001", "two-0000", "two-0001", "two-0000"]
        assert env.episode_sequence is not None and env.episode_sequence.passes == 2
        # every pass replays the same episodes bit for bit
        second_pass = [env.reset()[0] for _ in range(2)]  # two-0001, then two-0000 of pass 4
        fresh = MobileNavEnv(split="val", episodes=str(path))
        try:
            first_pass = [fresh.reset()[0] for _ in range(2)]
        finally:
            fresh.close()
        assert second_pass[0].tobytes() == first_pass[1].tobytes()
        assert second_pass[1].tobytes() == first_pass[0].tobytes()
    finally:
        env.close()


def test_discrete_env_replays_the_same_episodes() -> None:
    cont = MobileNavEnv(split="test", episodes="test")
    disc = gym.make("robot_rl/MobileNavDiscrete-v0", split="test", episodes="test", disable_env_checker=True)
    try:
        for _ in range(3):
            (obs_c, info_c), (obs_d, info_d) = cont.reset(), disc.reset()
            assert info_c["episode_id"] == info_d["episode_id"]
            assert info_c["layout_seed"] == info_d["layout_seed"]
            assert np.array_equal(info_c["start"], info_d["start"]) and np.array_equal(
                info_c["goal"], info_d["goal"]
            )
            assert info_c["start_yaw"] == info_d["start_yaw"]
            assert np.array_equal(obs_c, obs_d)  # the same observation layout, previous action zero
    finally:
        cont.close()
        disc.close()


def test_episodes_argument_refuses_other_kwargs_bad_files_and_layout_seeds(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"frozen with split='test', this env has split='train'"):
        MobileNavEnv(episodes="test")
    with pytest.raises(
        InputError, match=r"frozen with difficulty='hard', this env has difficulty='standard'"
    ):
        MobileNavEnv(split="test", episodes="hard")
    with pytest.raises(InputError, match=r"frozen with map='office', this env has map=None"):
        MobileNavEnv(split="test", episodes="office")
    with pytest.raises(
        InputError, match=r"frozen on map='office' \(SHA-256 7d30.*this env's map='apartment'"
    ):
        MobileNavEnv(split="test", map="apartment", episodes="office")
    with pytest.raises(
        InputError, match=r"frozen with max_episode_seconds=25.0, this env has max_episode_seconds=10.0"
    ):
        MobileNavEnv(split="test", max_episode_seconds=10.0, episodes="test")
    with pytest.raises(
        InputError, match=r"frozen with geodesic_range=\(1.5, 5.0\), this env has geodesic_range=\(1.0, 5.0\)"
    ):
        MobileNavEnv(split="test", geodesic_range=(1.0, 5.0), episodes="test")
    with pytest.raises(MissingInputError, match="neither a file nor a shipped set"):
        MobileNavEnv(split="test", episodes=str(tmp_path / "nope.json"))
    data = json.loads(shipped_sets()["test"].read_text())
    data["episodes"][0]["start_yaw"] += 0.5
    (tmp_path / "edited.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match="digest mismatch"):
        MobileNavEnv(split="test", episodes=str(tmp_path / "edited.json"))
    # the shipped map by its YAML path is the same map (compared by SHA-256)
    from robot_rl.envs.nav_map import shipped_maps

    env = MobileNavEnv(split="test", map=str(shipped_maps()["office"]), episodes="office")
    try:
        assert env.reset()[1]["episode_id"] == "office-0000"
        with pytest.raises(
            InputError, match=r"cannot pick a layout: this env replays the episodes of episodes='office'"
        ):
            env.reset(options={"layout_seed": 2_000_000})
    finally:
        env.close()
