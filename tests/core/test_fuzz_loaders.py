"""Fuzzing every loader a user can point at a file: only the loader's own error comes out, never a crash.

Inputs: random bytes, truncations and byte edits of a valid file, and valid files whose arrays were
replaced by NaN/inf, wrong dtypes, wrong shapes or absurd sizes. A load either raises the module's
error class (a ``ValueError`` subclass naming the file) or returns something usable (finite arrays,
the right types). Example counts come from the hypothesis profile (``tests/conftest.py``). Motion files
are fuzzed in ``test_motion_io_fuzz.py``.
"""

from __future__ import annotations

import io
import json
import pickle
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from avatarclip_studio.avatar.skinned import SkinnedAvatar
from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.io import BodyModelError, npz_bytes, read_body_file
from avatarclip_studio.body.model import BodyModel, load_body_model
from avatarclip_studio.body.skeleton import NUM_JOINTS, PARENTS
from avatarclip_studio.config import ConfigError, dump_config, load_config, preset, to_dict
from avatarclip_studio.export.checks import ExportError
from avatarclip_studio.export.importers import import_avatar_mesh
from avatarclip_studio.export.mesh import mesh_bytes, read_mesh
from avatarclip_studio.guidance.clip_model import load_clip_state_dict
from avatarclip_studio.guidance.errors import GuidanceUnavailable
from avatarclip_studio.guidance.offline.model import load_image_tower
from avatarclip_studio.motion.animate import MotionStateError, _load_state
from avatarclip_studio.motion.motion_vae import MotionVAE, load_motion_vae
from avatarclip_studio.motion.pose_prior import PosePrior, load_pose_prior
from avatarclip_studio.motion.weights import MotionWeightsError, save_weights
from avatarclip_studio.neus.fields import FieldFileError, NeusAvatarField
from avatarclip_studio.pipeline.run_dir import Manifest, RunDir, RunError
from avatarclip_studio.shape.vae import ShapeVAE, ShapeVAEError

TINY = preset("tiny")


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """One folder per module: hypothesis reruns a test body many times, a function fixture would be shared."""
    with tempfile.TemporaryDirectory() as folder:
        yield Path(folder)


# ----- corruptions -------------------------------------------------------------------------------------


def _mutate(data: bytes, edits: list[tuple[float, str, int]]) -> bytes:
    buf = bytearray(data)
    for where, op, byte in edits:
        i = int(where * len(buf)) if buf else 0
        if op == "set" and buf:
            buf[i] = byte
        elif op == "insert":
            buf.insert(i, byte)
        elif op == "delete" and buf:
            del buf[i]
    return bytes(buf)


EDITS = st.lists(
    st.tuples(
        st.floats(0, 1, exclude_max=True), st.sampled_from(["set", "insert", "delete"]), st.integers(0, 255)
    ),
    min_size=1,
    max_size=8,
)


def corruptions(valid: bytes) -> st.SearchStrategy[bytes]:
    """Random bytes, a truncation, or a few byte edits of ``valid``."""
    return st.one_of(
        st.binary(max_size=512),
        st.integers(0, max(len(valid) - 1, 0)).map(lambda n: valid[:n]),
        EDITS.map(lambda edits: _mutate(valid, edits)),
    )


BAD_ARRAYS: list[Callable[[np.ndarray], np.ndarray]] = [
    lambda a: np.full(a.shape, np.nan, np.float32),
    lambda a: np.full(a.shape, np.inf, np.float64),
    lambda a: a.astype(np.complex64),
    lambda a: np.full(a.shape, "x", "<U2"),
    lambda a: np.full(a.shape, b"ab", "S2"),
    lambda a: a.astype(bool),
    lambda a: a.astype(np.float16),
    lambda a: a.reshape(-1),
    lambda a: a.reshape(-1)[:0],
    lambda a: np.zeros(()),
    lambda a: np.zeros((*a.shape, 2), np.float32),
    lambda a: np.zeros((1, 2, 3, 4, 5), np.float32),
    lambda a: np.zeros((3, 0), np.float32),
    lambda a: np.full(a.shape, -(2**40), np.int64),
]
BAD = st.sampled_from(range(len(BAD_ARRAYS)))


def huge_npy(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """An .npy whose header claims ``shape`` but that holds only a few bytes (absurd sizes)."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode() + b" "
    header += b" " * (-(len(header) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 64


def npz_with(arrays: dict[str, np.ndarray], raw: dict[str, bytes] | None = None) -> bytes:
    """An .npz of ``arrays`` plus members given as raw .npy bytes (to claim absurd shapes)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for key, value in arrays.items():
            member = io.BytesIO()
            np.save(member, value, allow_pickle=False)
            zf.writestr(f"{key}.npy", member.getvalue())
        for key, data in (raw or {}).items():
            zf.writestr(f"{key}.npy", data)
    return buf.getvalue()


HUGE_SHAPES = st.sampled_from([(2**62,), (2**31, 2**31), (10**12, 3), (3, 10**11), (2**20, 24, 2**20)])


class Files(dict[str, bytes]):
    """Valid file contents by name; a short repr keeps hypothesis' failure reports readable."""

    def __repr__(self) -> str:
        return f"Files({', '.join(self)})"


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def finite(*arrays: Any) -> bool:
    return all(np.isfinite(np.asarray(a, np.float64)).all() for a in arrays if a is not None)


# ----- configs -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config_files(scratch: Path) -> dict[str, bytes]:
    dump_config(TINY, scratch / "valid.toml")
    dump_config(TINY, scratch / "valid.yaml")
    return Files(
        {
            ".toml": (scratch / "valid.toml").read_bytes(),
            ".yaml": (scratch / "valid.yaml").read_bytes(),
            ".json": json.dumps(to_dict(TINY)).encode(),
        }
    )


@given(data=st.data(), suffix=st.sampled_from([".toml", ".yaml", ".json"]))
def test_config_files_load_or_raise_config_error(data, suffix, config_files, scratch):
    path = write(scratch, f"fuzz{suffix}", data.draw(corruptions(config_files[suffix])))
    try:
        config = load_config(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
        return
    assert isinstance(config.sculpt.steps, int) and isinstance(config.seed, int)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(section=st.sampled_from(sorted(to_dict(TINY))), value=JSON)
def test_config_values_of_any_type_are_checked(section, value, scratch):
    """A known key with any JSON value: a config whose settings keep their declared types, or ConfigError."""
    path = write(scratch, "typed.json", json.dumps({section: value}).encode())
    try:
        config = load_config(path)
    except ConfigError:
        return
    assert type(getattr(config, section)) is type(getattr(TINY, section))


# ----- run folders -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_files(scratch: Path) -> dict[str, bytes]:
    run = RunDir.create(scratch / "valid-run", TINY, {"shape": "a tall person", "appearance": "a knight"})
    run.stage_finished("shape", 0.0, outputs=["shape.npz"])
    return Files({name: (run.path / name).read_bytes() for name in ("manifest.json", "config.toml")})


def use_run(path: Path) -> None:
    """What the runner, the app and ``export`` do with an opened run folder."""
    run = RunDir.open(path)
    for name, value in vars(Manifest()).items():
        assert isinstance(getattr(run.manifest, name), type(value)), name
    assert all(isinstance(entry, dict) for entry in run.manifest.stages.values())
    run.stage_done("shape")
    run.config()


@given(data=st.data(), damaged=st.sampled_from(["manifest.json", "config.toml"]))
def test_run_folders_open_or_raise_run_error(data, damaged, run_files, scratch):
    folder = scratch / "fuzz-run"
    folder.mkdir(exist_ok=True)
    for name, content in run_files.items():
        write(folder, name, data.draw(corruptions(content)) if name == damaged else content)
    try:
        use_run(folder)
    except (RunError, ConfigError) as exc:
        assert str(folder) in str(exc)


@given(fields=st.dictionaries(st.sampled_from(sorted(vars(Manifest()))), JSON, min_size=1))
def test_manifests_with_wrong_types_are_refused(fields, run_files, scratch):
    folder = scratch / "typed-run"
    folder.mkdir(exist_ok=True)
    write(folder, "config.toml", run_files["config.toml"])
    manifest = {**json.loads(run_files["manifest.json"]), **fields}
    write(folder, "manifest.json", json.dumps(manifest).encode())
    try:
        use_run(folder)
    except RunError as exc:
        assert str(folder) in str(exc)


# ----- body model files --------------------------------------------------------------------------------


def tiny_body_arrays(num_verts: int = 30, num_betas: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    weights = rng.random((num_verts, NUM_JOINTS)).astype(np.float32)
    regressor = rng.random((NUM_JOINTS, num_verts)).astype(np.float32)
    return {
        "v_template": rng.normal(size=(num_verts, 3)).astype(np.float32),
        "f": rng.integers(0, num_verts, (2 * num_verts, 3)),
        "weights": weights / weights.sum(1, keepdims=True),
        "J_regressor": regressor / regressor.sum(1, keepdims=True),
        "shapedirs": rng.normal(size=(num_verts, 3, num_betas)).astype(np.float32) * 0.01,
        "kintree_table": np.stack([np.array(PARENTS), np.arange(NUM_JOINTS)]),
        "sample_betas": rng.normal(size=(5, num_betas)).astype(np.float32),
    }


BODY_KEYS = sorted(tiny_body_arrays())


def check_body(path: Path) -> None:
    try:
        arrays = read_body_file(path)
        model = load_body_model(BodyConfig(model_path=str(path)))
    except BodyModelError as exc:
        assert str(path) in str(exc)
        return
    assert finite(*arrays.values())
    out = model(betas=torch.zeros(1, model.num_betas))
    assert torch.isfinite(out.vertices).all()
    assert isinstance(model, BodyModel)


# CPython's C unpickler can report an unraisable SystemError while freeing a malformed BYTEARRAY8 (the
# load itself still fails cleanly); pytest-qt's hook would count that as a failure of this test
@pytest.mark.qt_no_exception_capture
@given(data=st.data(), suffix=st.sampled_from([".npz", ".pkl"]))
def test_body_files_load_or_raise_body_model_error(data, suffix, scratch):
    arrays = tiny_body_arrays()
    valid = npz_bytes(arrays) if suffix == ".npz" else pickle.dumps(arrays, protocol=2)
    check_body(write(scratch, f"body{suffix}", data.draw(corruptions(valid))))


@given(key=st.sampled_from(BODY_KEYS), bad=BAD, suffix=st.sampled_from([".npz", ".pkl"]))
def test_body_files_with_bad_arrays_are_refused(key, bad, suffix, scratch):
    arrays = tiny_body_arrays()
    arrays[key] = BAD_ARRAYS[bad](arrays[key])
    content = npz_with(arrays) if suffix == ".npz" else pickle.dumps(arrays, protocol=2)
    check_body(write(scratch, f"bad-body{suffix}", content))


@given(key=st.sampled_from(BODY_KEYS), shape=HUGE_SHAPES)
def test_body_files_claiming_absurd_sizes_are_refused(key, shape, scratch):
    arrays = tiny_body_arrays()
    del arrays[key]
    check_body(write(scratch, "huge-body.npz", npz_with(arrays, {key: huge_npy(shape)})))


# ----- avatars -----------------------------------------------------------------------------------------


def tiny_avatar_arrays() -> dict[str, np.ndarray]:
    body = tiny_body_arrays(12)
    rng = np.random.default_rng(1)
    return {
        "vertices": body["v_template"],
        "faces": body["f"].astype(np.int32),
        "colors": rng.random((12, 3)).astype(np.float32),
        "skin_weights": body["weights"],
        "joints": rng.normal(size=(NUM_JOINTS, 3)).astype(np.float32),
        "parents": np.array(PARENTS, np.int32),
        "betas": np.zeros(4, np.float32),
        "uvs": rng.random((12, 2)).astype(np.float32),
        "texture": rng.integers(0, 255, (4, 4, 3), dtype=np.uint8),
    }


AVATAR_KEYS = sorted(tiny_avatar_arrays())


def check_avatar(path: Path) -> None:
    try:
        avatar = SkinnedAvatar.load(str(path))
    except ValueError as exc:
        assert str(path) in str(exc)
        return
    assert finite(avatar.vertices, avatar.colors, avatar.skin_weights, avatar.joints)
    assert avatar.parents == PARENTS


@given(data=st.data())
def test_avatar_files_load_or_raise_value_error(data, scratch):
    check_avatar(write(scratch, "avatar.npz", data.draw(corruptions(npz_bytes(tiny_avatar_arrays())))))


@given(key=st.sampled_from(AVATAR_KEYS), bad=BAD, huge=st.none() | HUGE_SHAPES)
def test_avatar_files_with_bad_arrays_are_refused(key, bad, huge, scratch):
    arrays = tiny_avatar_arrays()
    value = arrays.pop(key)
    raw = {key: huge_npy(huge)} if huge else {}
    if not huge:
        arrays[key] = BAD_ARRAYS[bad](value)
    check_avatar(write(scratch, "bad-avatar.npz", npz_with(arrays, raw)))


# ----- meshes and the original's avatars -----------------------------------------------------------------


@pytest.fixture(scope="module")
def mesh_files() -> dict[str, bytes]:
    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=1, radius=0.3)
    colors = np.random.default_rng(2).random((len(mesh.vertices), 3))
    return Files({s: mesh_bytes(mesh.vertices, mesh.faces, colors, s) for s in (".ply", ".obj")})


@pytest.fixture(scope="module")
def tiny_body() -> BodyModel:
    return BodyModel(read_body_file_from(tiny_body_arrays(40)), name="tiny")


def read_body_file_from(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    with tempfile.TemporaryDirectory() as folder:
        return read_body_file(write(Path(folder), "b.npz", npz_bytes(arrays)))


def check_mesh_file(path: Path, body: BodyModel) -> None:
    try:
        vertices, faces, colors = read_mesh(path)
        avatar = import_avatar_mesh(path, body)
    except ExportError as exc:
        assert str(path) in str(exc)
        return
    assert vertices.ndim == 2 and faces.ndim == 2 and (colors is None or colors.shape == vertices.shape)
    assert finite(avatar.vertices, avatar.colors, avatar.skin_weights)


@given(data=st.data(), suffix=st.sampled_from([".ply", ".obj"]))
def test_mesh_files_load_or_raise_export_error(data, suffix, mesh_files, tiny_body, scratch):
    check_mesh_file(write(scratch, f"mesh{suffix}", data.draw(corruptions(mesh_files[suffix]))), tiny_body)


XYZ = b"property float x\nproperty float y\nproperty float z\n"
FACE = b"element face 1\nproperty list uchar int vertex_indices\nend_header\n"
ABSURD_HEADERS = [
    b"ply\nformat binary_little_endian 1.0\nelement vertex 4000000000000\n" + XYZ + FACE,
    b"ply\nformat ascii 1.0\nelement vertex 3\n" + XYZ + FACE + b"nan 0 0\n0 inf 0\n0 0 1\n3 0 1 2\n",
    b"ply\nformat ascii 1.0\nelement vertex 3\n" + XYZ + FACE + b"0 0 0\n1 0 0\n0 1 0\n3 0 1 9\n",
    b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 99999999999\n",
    b"v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n",
    b"v 0 0 0\nf 1 1 1\n",
]


@pytest.mark.parametrize("content", ABSURD_HEADERS, ids=range(len(ABSURD_HEADERS)))
def test_meshes_with_absurd_sizes_or_values_are_refused(content, tiny_body, tmp_path):
    suffix = ".ply" if content.startswith(b"ply") else ".obj"
    path = write(tmp_path, f"absurd{suffix}", content)
    with pytest.raises(ExportError, match=path.name):
        import_avatar_mesh(path, tiny_body)


# ----- what the app opens: a run folder's avatar, mesh and shape ------------------------------------------


@pytest.fixture(scope="module")
def run_outputs(mesh_files) -> dict[str, bytes]:
    shape = {k: tiny_avatar_arrays()[k] for k in ("vertices", "faces")}
    return Files(
        {
            "avatar.npz": npz_bytes(tiny_avatar_arrays()),
            "mesh.ply": mesh_files[".ply"],
            "shape.npz": npz_bytes(shape),
        }
    )


@given(data=st.data(), damaged=st.sampled_from(["avatar.npz", "mesh.ply", "shape.npz"]))
def test_the_app_opens_damaged_run_folders_and_lists_the_problems(
    data, damaged, run_outputs, run_files, scratch
):
    from avatarclip_studio.ui.run_content import load_run_content

    folder = scratch / "app-run"
    folder.mkdir(exist_ok=True)
    for name, content in run_files.items():
        write(folder, name, content)
    # the app falls back to the mesh, then the shape: hide the better files so the damaged one is read
    order = ["avatar.npz", "mesh.ply", "shape.npz"]
    for name in order:
        (folder / name).unlink(missing_ok=True)
    for name in order[order.index(damaged) :]:
        content = run_outputs[name]
        write(folder, name, data.draw(corruptions(content)) if name == damaged else content)
    content = load_run_content(RunDir.open(folder))
    shown = content.avatar if content.avatar is not None else content.mesh
    assert shown is not None or content.problems
    assert all(str(folder) in problem for problem in content.problems)


@given(data=st.data())
def test_shape_codebook_caches_load_or_raise_codebook_error(data, scratch):
    from avatarclip_studio.shape.codebook import CodebookError, ShapeCodebook

    valid = scratch / "codebook.npz"
    if not valid.exists():
        z = torch.zeros(3, 4)
        ShapeCodebook(z, z, z[0], "guidance", "body", z[0]).save(valid)
    path = write(scratch, "fuzz-codebook.npz", data.draw(corruptions(valid.read_bytes())))
    try:
        ShapeCodebook.load(path)
    except CodebookError as exc:
        assert str(path) in str(exc)


# ----- checkpoints and weights -------------------------------------------------------------------------


def torch_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


MOTION_MODELS: dict[str, tuple[Callable[..., torch.nn.Module], dict[str, int]]] = {
    "pose_prior": (PosePrior, {"latent_dim": 4, "hidden": 8}),
    "motion_vae": (MotionVAE, {"frames": 4, "latent": 8, "layers": 1, "heads": 1, "ff": 8}),
}


@pytest.fixture(scope="module")
def checkpoints(scratch: Path) -> Files:
    torch.manual_seed(0)
    field = NeusAvatarField(replace(TINY.neus, sdf_width=8, color_width=8, sdf_layers=1))
    field.save(scratch / "field.pt")
    ShapeVAE(4, 8, 2, "tiny").save(scratch / "shape_vae.pt")
    for kind, (make, arch) in MOTION_MODELS.items():
        save_weights(scratch / f"{kind}.safetensors", make(**arch), kind, arch, {})
    z = torch.zeros(8, requires_grad=True)
    opt = torch.optim.Adam([z])
    motion_state = {"z": z.detach(), "optimizer": opt.state_dict(), "step": 3, "prompt": "waving"}
    return Files(
        {
            "field": (scratch / "field.pt").read_bytes(),
            "shape_vae": (scratch / "shape_vae.pt").read_bytes(),
            "pose_prior": (scratch / "pose_prior.safetensors").read_bytes(),
            "motion_vae": (scratch / "motion_vae.safetensors").read_bytes(),
            "motion_state": torch_bytes(motion_state),
            "clip": torch_bytes({"visual.conv1.weight": torch.zeros(2, 3, 4, 4)}),
            "image_tower": (
                Path(__file__).parents[2] / "resources/guidance/offline_image_tower.safetensors"
            ).read_bytes(),
        }
    )


LOADERS: dict[str, tuple[Callable[[Path], Any], type[Exception]]] = {
    "field": (NeusAvatarField.load, FieldFileError),
    "shape_vae": (ShapeVAE.load, ShapeVAEError),
    "pose_prior": (load_pose_prior, MotionWeightsError),
    "motion_vae": (load_motion_vae, MotionWeightsError),
    "motion_state": (lambda p: _load_state(p, "waving"), MotionStateError),
    "clip": (load_clip_state_dict, GuidanceUnavailable),
    "image_tower": (load_image_tower, GuidanceUnavailable),
}


def check_checkpoint(kind: str, path: Path, refused: bool = False) -> None:
    """``refused``: the file claims sizes its weights do not have, so loading must fail."""
    load, error = LOADERS[kind]
    try:
        load(path)
    except error as exc:
        assert str(path) in str(exc)
        return
    assert not refused, f"{kind}: {path} loaded though its sizes are wrong"


@given(data=st.data(), kind=st.sampled_from(sorted(LOADERS)))
def test_checkpoints_load_or_raise_their_error(data, kind, checkpoints, scratch):
    content = checkpoints[kind]
    if kind == "image_tower":  # 1 MB: edits near the header are the interesting ones
        content = data.draw(EDITS.map(lambda edits: _mutate(content[:4096], edits))) + content[4096:]
    else:
        content = data.draw(corruptions(content))
    check_checkpoint(kind, write(scratch, f"{kind}.ckpt", content))


SIZES = st.sampled_from([0, -1, 10**12, 2**40, 1.5, "8", None, [8]])


@given(key=st.sampled_from(["sdf_width", "sdf_layers", "color_width", "pe_frequencies"]), size=SIZES)
def test_fields_claiming_absurd_sizes_are_refused(key, size, checkpoints, scratch):
    payload = torch.load(io.BytesIO(checkpoints["field"]), weights_only=True)
    payload["config"][key] = size
    check_checkpoint("field", write(scratch, "absurd-field.pt", torch_bytes(payload)), refused=True)


@given(key=st.sampled_from(["num_betas", "hidden_dim", "latent_dim"]), size=SIZES)
def test_shape_vaes_claiming_absurd_sizes_are_refused(key, size, checkpoints, scratch):
    payload = torch.load(io.BytesIO(checkpoints["shape_vae"]), weights_only=True)
    payload[key] = size
    check_checkpoint("shape_vae", write(scratch, "absurd-vae.pt", torch_bytes(payload)), refused=True)


@given(kind=st.sampled_from(sorted(MOTION_MODELS)), size=SIZES, data=st.data())
def test_motion_models_claiming_absurd_sizes_are_refused(kind, size, data, scratch):
    make, arch = MOTION_MODELS[kind]
    claimed = {**arch, data.draw(st.sampled_from(sorted(arch))): size}
    path = scratch / f"absurd-{kind}.safetensors"
    save_weights(path, make(**arch), kind, claimed, {})
    check_checkpoint(kind, path, refused=True)


# ----- hostile pickles ---------------------------------------------------------------------------------


class Payload:
    """Unpickling this runs ``os.mkdir(marker)``: the proof that a loader executed a file's code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        import os

        return os.mkdir, (str(self.marker),)


def test_malicious_pickles_in_checkpoints_do_not_run(tmp_path):
    marker = tmp_path / "pwned"
    evil = {"config": {}, "state": Payload(marker), "prompt": "waving", "state_dict": Payload(marker)}
    loaders = {kind: LOADERS[kind] for kind in ("field", "shape_vae", "motion_state", "clip")}
    loaders["body"] = (read_body_file, BodyModelError)
    for kind, (load, error) in loaders.items():
        path = tmp_path / (f"{kind}.pkl" if kind == "body" else f"{kind}.pt")
        path.write_bytes(pickle.dumps(evil, protocol=2) if kind == "body" else torch_bytes(evil))
        with pytest.raises(error, match=path.name):
            load(path)
        assert not marker.exists(), f"loading a {kind} file ran code from it"


def test_every_torch_load_in_the_package_is_weights_only():
    import re

    package = Path(__file__).parents[2] / "avatarclip_studio"
    calls = []
    for file in package.rglob("*.py"):
        text = file.read_text(encoding="utf-8")
        calls += [(file.name, m.group(0)) for m in re.finditer(r"torch\.load\((?:[^()]|\([^()]*\))*\)", text)]
        assert "allow_pickle=True" not in text, file
        assert not re.search(r"pickle\.loads?\(", text), f"{file}: plain pickle.load runs a file's code"
    assert len(calls) >= 1
    assert all("weights_only=True" in call for _, call in calls), [
        c for c in calls if "weights_only" not in c[1]
    ]
