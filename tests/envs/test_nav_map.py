"""ROS map_server maps: modes, negate, thresholds, box merging, frames, bad maps, shipped maps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from robot_rl.envs.nav_env import MobileNavEnv
from robot_rl.envs.nav_map import load_map, merge_boxes, occupancy_free, shipped_maps
from robot_rl.envs.scripted.nav_planner import NavPlanner
from robot_rl.errors import InputError, MissingInputError


def _write_map(tmp: Path, pixels: np.ndarray, name: str = "m", fmt: str = "pgm", **yaml_keys) -> Path:
    mode = "LA" if pixels.ndim == 3 else "L"
    Image.fromarray(pixels.astype(np.uint8), mode=mode).save(tmp / f"{name}.{fmt}")
    keys = {
        "image": f"{name}.{fmt}",
        "resolution": 0.1,
        "origin": "[1.0, -2.0, 0.0]",
        "negate": 0,
        "occupied_thresh": 0.65,
        "free_thresh": 0.196,
        **yaml_keys,
    }
    path = tmp / f"{name}.yaml"
    path.write_text("".join(f"{k}: {v}\n" for k, v in keys.items()))
    return path


def _room(rows: int = 40, cols: int = 60, free: int = 254, wall: int = 0) -> np.ndarray:
    img = np.full((rows, cols), wall, np.uint8)
    img[2:-2, 2:-2] = free
    return img


@pytest.mark.parametrize(
    ("mode", "negate", "value", "expected"),
    [
        ("trinary", 0, 254, True),
        ("trinary", 0, 0, False),
        ("trinary", 0, 205, False),  # unknown
        ("trinary", 0, 210, True),  # p = 0.176 < 0.196
        ("trinary", 1, 0, True),
        ("trinary", 1, 254, False),  # negate: black is free
        ("scale", 0, 254, True),
        ("scale", 0, 150, False),  # in between: not free
        ("raw", 0, 0, True),
        ("raw", 0, 19, True),
        ("raw", 0, 20, False),
        ("raw", 0, 100, False),
        ("raw", 0, 255, False),  # raw > 100: unknown
        ("raw", 1, 0, True),  # raw ignores negate
    ],
)
def test_pixel_semantics_follow_map_server(mode, negate, value, expected) -> None:
    spec = {"mode": mode, "negate": negate, "free_thresh": 0.196, "occupied_thresh": 0.65}
    pixels = np.stack([np.full((2, 3), float(value)), np.full((2, 3), 255.0)], -1)
    assert occupancy_free(spec, pixels).tolist() == [[expected] * 3] * 2


def test_scale_mode_makes_transparent_pixels_unknown_and_rows_flip() -> None:
    spec = {"mode": "scale", "negate": 0, "free_thresh": 0.196, "occupied_thresh": 0.65}
    grey = np.full((2, 2), 254.0)
    alpha = np.array([[255.0, 0.0], [255.0, 255.0]])  # top-right pixel transparent
    free = occupancy_free(spec, np.stack([grey, alpha], -1))
    assert free.tolist() == [[True, True], [True, False]]  # row 0 of the grid is the image's bottom


def test_merge_boxes_covers_the_cells_exactly_with_few_boxes() -> None:
    rng = np.random.default_rng(3)
    occ = rng.random((30, 40)) < 0.3
    occ[5:25, 10:12] = True  # a long wall
    boxes = merge_boxes(occ)
    cover = np.zeros(occ.shape, int)
    for r0, r1, c0, c1 in boxes:
        cover[r0:r1, c0:c1] += 1
    assert np.array_equal(cover, occ.astype(int))  # exact and disjoint
    wall = np.zeros((50, 50), bool)
    wall[0:3, :] = wall[:, 0:3] = True
    assert len(merge_boxes(wall)) == 2


def test_a_png_map_becomes_a_padded_layout_with_the_map_frame_offset(tmp_path: Path) -> None:
    img = _room()
    img[10:30, 29:31] = 0  # interior wall
    m = load_map(_write_map(tmp_path, img, fmt="png"))
    assert m.free.shape == (40, 60) and m.layout.config.cells == 62 and m.resolution == 0.1
    # occupied cells of the (square, padded) layout are exactly the map's non-free cells
    inside = m.layout.clearance > 0
    assert inside.sum() == m.free.sum()
    # map frame = env + offset: the lower-left pixel's centre is at origin + res/2 in the map frame
    i, j = 11 + 2, 1 + 2  # padded indices of map pixel (row from bottom 2, col 2)
    x_env, y_env = m.layout.to_world(i, j)
    assert m.free[2, 2]
    np.testing.assert_allclose(
        (x_env + m.frame_offset[0], y_env + m.frame_offset[1]), (1.0 + 0.25, -2.0 + 0.25)
    )
    assert len(m.boxes) <= 12


def test_bad_maps_get_clear_errors(tmp_path: Path) -> None:
    good = _room()
    with pytest.raises(MissingInputError, match=r"image 'gone.pgm' not found"):
        path = _write_map(tmp_path, good, name="a")
        path.write_text(path.read_text().replace("a.pgm", "gone.pgm"))
        load_map(path)
    with pytest.raises(InputError, match="mode 'fancy' is unknown"):
        load_map(_write_map(tmp_path, good, name="b", mode="fancy"))
    with pytest.raises(InputError, match="thresholds out of order"):
        load_map(_write_map(tmp_path, good, name="c", occupied_thresh=0.1, free_thresh=0.5))
    with pytest.raises(InputError, match="origin yaw"):
        load_map(_write_map(tmp_path, good, name="d", origin="[0, 0, 0.5]"))
    with pytest.raises(InputError, match="lacks \\['resolution'\\]"):
        (tmp_path / "e.yaml").write_text("image: a.pgm\norigin: [0, 0, 0]\n")
        load_map(tmp_path / "e.yaml")
    with pytest.raises(InputError, match="has no free cell"):
        load_map(_write_map(tmp_path, np.zeros((10, 10)), name="f"))
    with pytest.raises(MissingInputError, match=r"neither a YAML file nor a shipped map .*office"):
        load_map("no_such_map")
    with pytest.raises(InputError, match="thinner than one cell"):
        MobileNavEnv(map=str(_write_map(tmp_path, good, name="g", resolution=0.5)))
    narrow = np.zeros((40, 60), np.uint8)
    narrow[10:13, 2:58] = 254  # a 0.3 m corridor: the 0.34 m base does not fit
    with pytest.raises(InputError, match="too narrow"):
        MobileNavEnv(map=str(_write_map(tmp_path, narrow, name="h")))
    small = _room(14, 14)  # 1 m x 1 m inside: no pair 1.5 m apart
    with pytest.raises(InputError, match="no reachable start/goal pair"):
        MobileNavEnv(map=str(_write_map(tmp_path, small, name="i")))


def test_env_on_a_map_samples_reachable_free_pairs(tmp_path: Path) -> None:
    img = _room(50, 80)
    img[10:40, 39:41] = 0
    env = MobileNavEnv(map=str(_write_map(tmp_path, img)))
    try:
        layout = env.task.layout_config
        assert env.world is not None and layout.resolution == 0.1 and layout.arena_size == pytest.approx(8.2)
        for seed in range(5):
            _, info = env.reset(seed=seed)
            assert info["layout_seed"] == -1 and info["map_sha256"] == env.world.sha256
            for key in ("start", "goal"):
                cell = env.world.layout.to_cell(*info[key])
                assert env.world.layout.clearance[cell] >= 0.17 + 0.1  # clearance for the base
            assert 1.5 <= info["geodesic_distance"] <= 5.0
    finally:
        env.close()


def test_shipped_maps_load_with_few_boxes_and_the_planner_reaches_goals() -> None:
    maps = shipped_maps()
    assert set(maps) == {"office", "apartment", "warehouse"}
    for name in maps:
        m = load_map(name)
        assert len(m.boxes) <= 40, name
    env = MobileNavEnv(split="test", map="office")
    try:
        successes = 0
        for seed in range(3):
            obs, info = env.reset(seed=seed)
            planner = NavPlanner(env.obs_layout, env.dt)
            planner.reset(obs, info)
            done = False
            while not done:
                obs, _, terminated, truncated, info = env.step(planner.act(obs))
                done = terminated or truncated
            successes += info["is_success"]
        assert successes == 3
    finally:
        env.close()
