"""``robot-rl keygen --out KEY [--force]``: an Ed25519 key pair to sign bundles (KEY and KEY.pub)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``robot-rl keygen``."""
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="private key file to write (mode 0600); the public key goes to OUT.pub",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing key files")


def run(args: argparse.Namespace) -> int:
    """Write the key pair and print the paths, the key id and how to use them.

    Raises:
        ValueError: a key file exists and ``--force`` was not given.
    """
    from robot_rl.deploy.signing import generate_keypair, key_id, load_public_key

    private, public = generate_keypair(args.out, overwrite=args.force)
    print(f"private key: {private}  (keep secret: it signs bundles; mode 0600)")
    print(f"public key:  {public}  (copy to the robot)")
    print(f"key id:      {key_id(load_public_key(public))}")
    print(f"sign:        robot-rl export RUN --out DIR --sign {private}")
    print(f"trust:       robot-rl deploy DIR --trust {public}")
    return 0
