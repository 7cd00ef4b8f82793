"""Draw the shipped ROS maps in assets/maps/ (office, apartment, warehouse) from rectangles in metres.

Run from the repository root: ``python tools/draw_nav_maps.py``. Pixels follow ROS map_saver:
254 free, 0 occupied, 205 unknown; image row 0 is the top of the map (max y).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

FREE, OCCUPIED, UNKNOWN = 254, 0, 205
OUT = Path(__file__).resolve().parents[1] / "assets" / "maps"


class Canvas:
    def __init__(self, width: float, height: float, resolution: float) -> None:
        self.res = resolution
        self.img = np.full((round(height / resolution), round(width / resolution)), UNKNOWN, np.uint8)

    def fill(self, x0: float, y0: float, x1: float, y1: float, value: int) -> None:
        """Fill the rectangle [x0, x1] x [y0, y1] (m, map frame from the lower-left corner)."""
        rows = self.img.shape[0]
        c0, c1 = round(x0 / self.res), round(x1 / self.res)
        r0, r1 = rows - round(y1 / self.res), rows - round(y0 / self.res)
        self.img[max(r0, 0) : r1, max(c0, 0) : c1] = value

    def room(self, x0: float, y0: float, x1: float, y1: float, wall: float = 0.2) -> None:
        """Walls of thickness ``wall`` around a free interior."""
        self.fill(x0, y0, x1, y1, OCCUPIED)
        self.fill(x0 + wall, y0 + wall, x1 - wall, y1 - wall, FREE)

    def door(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.fill(x0, y0, x1, y1, FREE)

    def block(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.fill(x0, y0, x1, y1, OCCUPIED)


def save(canvas: Canvas, name: str, fmt: str, description: str) -> None:
    image = f"{name}.{fmt}"
    Image.fromarray(canvas.img, mode="L").save(OUT / image)
    (OUT / f"{name}.yaml").write_text(
        f"# {description}\n"
        f"image: {image}\nmode: trinary\nresolution: {canvas.res}\norigin: [0.0, 0.0, 0.0]\n"
        "negate: 0\noccupied_thresh: 0.65\nfree_thresh: 0.196\n"
    )


def office() -> None:
    """12 m x 8 m: a corridor between six offices (1 m doors), desks and cabinets in the rooms."""
    c = Canvas(12.4, 8.4, 0.1)
    c.room(0.2, 0.2, 12.2, 8.2)
    c.block(0.2, 3.4, 12.2, 3.6)  # corridor walls
    c.block(0.2, 5.0, 12.2, 5.2)
    for x in (4.2, 8.2):  # room partitions
        c.block(x, 0.2, x + 0.2, 3.6)
        c.block(x, 5.0, x + 0.2, 8.2)
    for x in (1.5, 5.6, 9.6):  # doors, 1.0 m
        c.door(x, 3.4, x + 1.0, 3.6)
        c.door(x + 0.8, 5.0, x + 1.8, 5.2)
    c.door(0.2, 3.6, 0.4, 5.0)  # corridor open at the west end
    for x0, y0, x1, y1 in [
        (0.8, 0.8, 2.4, 1.6),
        (5.0, 1.8, 6.4, 2.6),
        (10.2, 0.6, 11.6, 1.4),
        (1.0, 6.6, 2.6, 7.4),
        (6.2, 6.0, 7.4, 7.6),
        (9.0, 7.2, 11.0, 7.8),
        (3.2, 2.4, 3.8, 3.0),
        (11.4, 5.6, 11.8, 6.4),
    ]:
        c.block(x0, y0, x1, y1)
    save(
        c,
        "office",
        "pgm",
        "Office floor, 12 m x 8 m at 0.1 m: a corridor, six offices with 1 m doors, desks.",
    )


def apartment() -> None:
    """7 m x 6 m at 0.05 m: living room, kitchen, bedroom and bath, 0.9 m doors, furniture."""
    c = Canvas(7.4, 6.4, 0.05)
    c.room(0.2, 0.2, 7.2, 6.2, wall=0.15)
    c.block(4.2, 0.2, 4.35, 6.2)  # living | bedroom+bath
    c.block(4.35, 2.8, 7.2, 2.95)  # bedroom | bath
    c.block(0.2, 3.9, 2.6, 4.05)  # living | kitchen (open to the east)
    c.door(4.2, 1.0, 4.35, 1.9)  # living -> bedroom
    c.door(4.2, 4.4, 4.35, 5.3)  # living -> bath side
    c.door(5.4, 2.8, 6.3, 2.95)  # bedroom -> bath corridor
    for x0, y0, x1, y1 in [
        (0.5, 0.6, 2.5, 1.4),  # sofa
        (1.6, 2.1, 2.6, 2.9),  # table
        (0.35, 4.05, 0.95, 6.05),  # kitchen counter
        (5.0, 0.35, 7.05, 1.9),  # bed
        (6.5, 5.2, 7.05, 6.05),  # bath tub
        (3.4, 3.3, 3.8, 3.7),
    ]:  # plant
        c.block(x0, y0, x1, y1)
    save(
        c,
        "apartment",
        "png",
        "Apartment, 7 m x 6 m at 0.05 m: living room, kitchen, bedroom, bath, furniture.",
    )


def warehouse() -> None:
    """14 m x 6 m: three rows of shelving racks with 1.2-1.6 m aisles and two cross aisles."""
    c = Canvas(14.4, 6.4, 0.1)
    c.room(0.2, 0.2, 14.2, 6.2)
    for y0 in (1.5, 3.1, 4.6):  # racks 0.6 m deep
        for x0, x1 in ((1.5, 5.5), (6.7, 10.0), (11.2, 13.0)):
            c.block(x0, y0, x1, y0 + 0.6)
    for x0, y0, x1, y1 in [(0.6, 0.6, 1.0, 1.0), (13.4, 5.4, 13.8, 5.8), (5.9, 2.4, 6.3, 2.8)]:  # pallets
        c.block(x0, y0, x1, y1)
    save(
        c,
        "warehouse",
        "pgm",
        "Warehouse aisles, 14 m x 6 m at 0.1 m: three rows of racks, cross aisles, pallets.",
    )


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    office()
    apartment()
    warehouse()
