"""Ed25519 signing of bundles: keygen, sign_bundle, check_signature and ``robot-rl keygen``."""

from __future__ import annotations

import argparse
import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from robot_rl.deploy import commands_keygen
from robot_rl.deploy.manifest import MANIFEST, write_manifest
from robot_rl.deploy.signing import (
    SIGNATURE,
    check_signature,
    generate_keypair,
    key_id,
    load_private_key,
    load_public_key,
    sign_bundle,
)

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A small fake bundle: two files and a manifest holding their hashes."""
    out = tmp_path / "bundle"
    (out / "policy_c").mkdir(parents=True)
    (out / "policy.onnx").write_bytes(b"\x08\x07fake onnx")
    (out / "policy_c" / "policy.c").write_text("int main(void) { return 0; }\n")
    write_manifest(out, {"schema": 1, "env": {"id": "Pendulum-v1"}})
    return out


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return generate_keypair(tmp_path / "keys" / "signer")


def _write_sig(bundle: Path, data: bytes | str) -> None:
    path = bundle / SIGNATURE
    path.write_bytes(data.encode() if isinstance(data, str) else data)


def _pem_private(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# ---------------------------------------------------------------------------------- keygen
@posix_only
def test_keygen_writes_private_0600_and_public_pem(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert public == private.with_name("signer.pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert public.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    assert key_id(load_private_key(private).public_key()) == key_id(load_public_key(public))
    assert len(key_id(load_public_key(public))) == 16


def test_keygen_refuses_to_overwrite(keys: tuple[Path, Path]) -> None:
    private, public = keys

    with pytest.raises(ValueError, match=f"{private.name} already exists"):
        generate_keypair(private)
    private.unlink()
    with pytest.raises(ValueError, match=f"{public.name} already exists"):
        generate_keypair(private)
    assert not private.exists()  # nothing written when refusing


@posix_only
def test_keygen_overwrite_replaces_keys_and_tightens_mode(keys: tuple[Path, Path]) -> None:
    private, public = keys
    old_id = key_id(load_public_key(public))
    private.chmod(0o644)
    generate_keypair(private, overwrite=True)
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert key_id(load_public_key(public)) != old_id


# ------------------------------------------------------------------------- sign and check
def test_sign_then_check_is_clean(bundle: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    path = sign_bundle(bundle, private)
    assert path == bundle / SIGNATURE
    record = json.loads(path.read_text())
    assert record["algorithm"] == "ed25519"
    assert record["key_id"] == key_id(load_public_key(public))
    assert len(base64.b64decode(record["signature"])) == 64
    assert check_signature(bundle, [public]) == []
    assert check_signature(bundle, [load_public_key(public)]) == []


def test_other_trusted_key_names_the_key_ids(bundle: Path, keys: tuple[Path, Path], tmp_path: Path) -> None:
    private, public = keys
    _, other = generate_keypair(tmp_path / "other")
    sign_bundle(bundle, private)
    problems = check_signature(bundle, [other])
    assert len(problems) == 1
    assert key_id(load_public_key(public)) in problems[0]
    assert key_id(load_public_key(other)) in problems[0]
    assert "not trusted" in problems[0]
    assert check_signature(bundle, [other, public]) == []


def test_manifest_modified_after_signing_is_a_bad_signature(bundle: Path, keys: tuple[Path, Path]) -> None:
    private, public = keys
    sign_bundle(bundle, private)
    manifest = bundle / MANIFEST
    data = bytearray(manifest.read_bytes())
    data[-2] ^= 0x01
    manifest.write_bytes(bytes(data))
    problems = check_signature(bundle, [public])
    assert len(problems) == 1 and "bad signature" in problems[0] and "modified" in problems[0]


def test_missing_signature_is_unsigned(bundle: Path, keys: tuple[Path, Path]) -> None:
    problems = check_signature(bundle, [keys[1]])
    assert len(problems) == 1 and problems[0].startswith("unsigned bundle")


def test_no_trusted_keys_is_a_problem(bundle: Path, keys: tuple[Path, Path]) -> None:
    sign_bundle(bundle, keys[0])
    assert "no trusted public keys" in check_signature(bundle, [])[0]


def test_missing_manifest_after_signing_is_a_problem(bundle: Path, keys: tuple[Path, Path]) -> None:
    sign_bundle(bundle, keys[0])
    (bundle / MANIFEST).unlink()
    assert "cannot be read" in check_signature(bundle, [keys[1]])[0]


def _valid_sig(bundle: Path, private: Path) -> dict[str, str]:
    sign_bundle(bundle, private)
    record: dict[str, str] = json.loads((bundle / SIGNATURE).read_text())
    return record


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda r: b"", "not valid JSON"),
        (lambda r: b"\xff\xfe\x00garbage", "not valid JSON"),
        (lambda r: json.dumps(r).encode()[:40], "not valid JSON"),
        (lambda r: b"[" * 200_000 + b"]" * 200_000, "larger than"),
        (lambda r: b"[" * 60_000, "not valid JSON"),
        (lambda r: b"[1, 2]", "not a JSON object"),
        (lambda r: b"null", "not a JSON object"),
        (lambda r: json.dumps({**r, "key_id": 7}).encode(), "non-string fields ['key_id']"),
        (lambda r: json.dumps({"signature": r["signature"]}).encode(), "missing or non-string"),
        (lambda r: json.dumps({**r, "algorithm": "rsa-pss"}).encode(), "only 'ed25519'"),
        (lambda r: json.dumps({**r, "signature": "!!not base64!!"}).encode(), "not valid base64"),
        (
            lambda r: json.dumps({**r, "signature": r["signature"][:44]}).encode(),
            "an Ed25519 signature is 64",
        ),
        (lambda r: json.dumps({**r, "key_id": "\n" + "x" * 5000}).encode(), "not trusted"),
        (lambda r: json.dumps({**r, "signature": base64.b64encode(bytes(64)).decode()}).encode(), "bad sig"),
    ],
)
def test_hostile_signature_file_is_a_problem_not_an_exception(
    bundle: Path, keys: tuple[Path, Path], make: object, expected: str
) -> None:
    record = _valid_sig(bundle, keys[0])
    _write_sig(bundle, make(record))  # type: ignore[operator]
    problems = check_signature(bundle, [keys[1]])
    assert len(problems) == 1 and expected in problems[0], problems
    assert len(problems[0]) < 300


def test_signature_path_that_is_a_directory_is_a_problem(bundle: Path, keys: tuple[Path, Path]) -> None:
    (bundle / SIGNATURE).mkdir()
    problems = check_signature(bundle, [keys[1]])
    assert len(problems) == 1 and "cannot be read" in problems[0]


# ------------------------------------------------------------------------------ bad keys
def test_sign_rejects_non_ed25519_private_keys(bundle: Path, tmp_path: Path, keys: tuple[Path, Path]) -> None:
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(_pem_private(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    with pytest.raises(ValueError, match=r"holds an RSA private key, not Ed25519; expected .*Ed25519"):
        sign_bundle(bundle, rsa_key)
    ec_key = tmp_path / "ec.pem"
    ec_key.write_bytes(_pem_private(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ValueError, match=r"holds an EC \(elliptic curve\) private key, not Ed25519"):
        sign_bundle(bundle, ec_key)
    with pytest.raises(ValueError, match="is a public key"):
        sign_bundle(bundle, keys[1])
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a key\n")
    with pytest.raises(ValueError, match="not a readable PEM private key"):
        sign_bundle(bundle, garbage)
    assert not (bundle / SIGNATURE).exists()


def test_sign_rejects_encrypted_private_key(bundle: Path, tmp_path: Path) -> None:
    encrypted = tmp_path / "enc.pem"
    encrypted.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(ValueError, match="encrypted private key"):
        sign_bundle(bundle, encrypted)


def test_load_public_key_rejects_other_keys(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    rsa_pub = tmp_path / "rsa.pub"
    rsa_pub.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(
        ValueError, match=r"holds an RSA public key, not Ed25519; expected a PEM Ed25519 public key"
    ):
        load_public_key(rsa_pub)
    with pytest.raises(ValueError, match="is a private key"):
        load_public_key(keys[0])
    garbage = tmp_path / "garbage.pub"
    garbage.write_bytes(os.urandom(64))
    with pytest.raises(ValueError, match="not a readable PEM public key"):
        load_public_key(garbage)


def test_sign_without_manifest_is_file_not_found(tmp_path: Path, keys: tuple[Path, Path]) -> None:
    with pytest.raises(FileNotFoundError, match="not an exported bundle"):
        sign_bundle(tmp_path, keys[0])


# ----------------------------------------------------------------------- robot-rl keygen
def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="robot-rl keygen")
    commands_keygen.add_arguments(parser)
    return parser.parse_args(argv)


def test_keygen_verb_prints_paths_id_and_usage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "k" / "robot_signing"
    assert commands_keygen.run(_parse(["--out", str(out)])) == 0
    text = capsys.readouterr().out
    kid = key_id(load_public_key(out.with_name("robot_signing.pub")))
    assert str(out) in text and f"{out}.pub" in text and kid in text
    assert f"robot-rl export RUN --out DIR --sign {out}" in text
    assert f"robot-rl deploy DIR --trust {out}.pub" in text
    with pytest.raises(ValueError, match="already exists"):
        commands_keygen.run(_parse(["--out", str(out)]))
    assert commands_keygen.run(argparse.Namespace(out=out, force=True)) == 0
    assert kid not in capsys.readouterr().out
