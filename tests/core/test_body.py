"""The body model: shipped open body, SMPL-format loading, skinning."""

from __future__ import annotations

import itertools
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import smplx
import torch
import trimesh
from smplx.utils import Struct

from avatarclip_studio.body.config import BodyConfig
from avatarclip_studio.body.io import npz_bytes
from avatarclip_studio.body.model import BodyModel, BodyModelError, default_body_path, load_body_model
from avatarclip_studio.body.skeleton import JOINT_INDEX, NUM_JOINTS, PARENTS


@pytest.fixture(scope="module")
def body() -> BodyModel:
    return load_body_model(BodyConfig(num_betas=16))


def _height(vertices: torch.Tensor) -> float:
    return float(vertices[..., 1].max() - vertices[..., 1].min())


def _pose(**angles: tuple[float, float, float]) -> torch.Tensor:
    pose = torch.zeros(1, 3 * (NUM_JOINTS - 1))
    for name, aa in angles.items():
        i = JOINT_INDEX[name] - 1
        pose[0, 3 * i : 3 * i + 3] = torch.tensor(aa)
    return pose


def test_shipped_body_is_adult_sized_in_smpl_frame(body: BodyModel) -> None:
    vertices, joints = body.rest()
    assert body.num_betas == 16 and body.beta_semantics[:2] == ("height", "weight")
    assert body.sample_betas.shape == (512, 16)
    assert torch.allclose(body.sample_betas.std(0), torch.ones(16), atol=0.01)  # unit-variance betas
    assert 1.5 < _height(vertices) < 2.0
    assert joints[0, JOINT_INDEX["pelvis"]].abs().max() < 0.02  # pelvis at the origin, like SMPL
    assert joints[0, JOINT_INDEX["head"], 1] > 0.5  # y up
    assert joints[0, JOINT_INDEX["left_shoulder"], 0] > 0.1  # the body's left on +x
    toes, ankle = joints[0, JOINT_INDEX["left_foot"]], joints[0, JOINT_INDEX["left_ankle"]]
    assert toes[2] > ankle[2] + 0.05  # facing +z
    # T-pose: wrists level with the shoulders, far out sideways
    wrist, shoulder = joints[0, JOINT_INDEX["left_wrist"]], joints[0, JOINT_INDEX["left_shoulder"]]
    assert abs(float(wrist[1] - shoulder[1])) < 0.03 and wrist[0] > 0.6


def test_shipped_file_is_small_and_watertight(body: BodyModel) -> None:
    assert default_body_path().stat().st_size < 8e6
    mesh = trimesh.Trimesh(body.v_template.numpy(), body.faces.numpy(), process=False)
    assert mesh.is_watertight and 0.04 < mesh.volume < 0.1  # m^3: ~60 kg of body


def test_grounding_puts_feet_on_floor(body: BodyModel) -> None:
    out = body(betas=torch.tensor([[1.5, -1.0]]), body_pose=_pose(left_knee=(0.8, 0, 0)))
    shift = body.ground_offset(out.vertices)
    grounded = out.vertices[..., 1] + shift[:, None]
    assert shift.shape == (1,) and float(shift) > 0.7
    assert float(grounded.min()) == pytest.approx(0.0, abs=1e-6)
    assert float(body.ground_offset(out.vertices[0])) == pytest.approx(float(shift))


def test_skinning_weights_are_a_partition_of_unity(body: BodyModel) -> None:
    w = body.lbs_weights
    assert w.shape == (body.num_vertices, NUM_JOINTS) and float(w.min()) >= 0.0
    assert torch.allclose(w.sum(1), torch.ones(body.num_vertices), atol=1e-5)
    assert bool((w.max(0).values > 0.4).all())  # every joint drives some skin (collars least)


def test_zero_pose_returns_the_shaped_template(body: BodyModel) -> None:
    betas = torch.randn(3, 16, generator=torch.Generator().manual_seed(0))
    out = body(betas=betas)
    rest_vertices, rest_joints = body.rest(betas)
    assert torch.allclose(out.vertices, rest_vertices, atol=1e-5)
    assert torch.allclose(out.joints, rest_joints, atol=1e-5)
    assert torch.allclose(body().vertices[0], body.v_template, atol=1e-6)


def test_raising_the_shoulders_lifts_the_hands(body: BodyModel) -> None:
    rest = body().vertices[0]
    out = body(body_pose=_pose(left_shoulder=(0, 0, 0.6), right_shoulder=(0, 0, -0.6)))
    for side in ("left", "right"):
        hand = body.lbs_weights[:, JOINT_INDEX[f"{side}_hand"]] > 0.5
        assert float((out.vertices[0, hand, 1] - rest[hand, 1]).mean()) > 0.3
    feet = body.lbs_weights[:, JOINT_INDEX["left_foot"]] > 0.5
    assert torch.allclose(out.vertices[0, feet], rest[feet], atol=1e-6)


def test_joint_transforms_move_joints_and_vertices(body: BodyModel) -> None:
    gen = torch.Generator().manual_seed(1)
    betas, pose = torch.randn(2, 16, generator=gen), 0.3 * torch.randn(2, 69, generator=gen)
    orient, transl = 0.3 * torch.randn(2, 3, generator=gen), torch.randn(2, 3, generator=gen)
    out = body(betas, pose, orient, transl)
    _, rest_joints = body.rest(betas)
    a = out.joint_transforms
    moved = (a[..., :3, :3] @ rest_joints[..., None])[..., 0] + a[..., :3, 3]
    assert torch.allclose(moved, out.joints, atol=1e-5)
    head = JOINT_INDEX["head"]
    rigid = body.lbs_weights[:, head] > 0.999
    rest_head = body.rest(betas)[0][:, rigid]
    moved_head = (a[:, None, head, :3, :3] @ rest_head[..., None])[..., 0] + a[:, None, head, :3, 3]
    assert torch.allclose(moved_head, out.vertices[:, rigid], atol=1e-3)


def test_matches_smplx_on_the_same_file(body: BodyModel) -> None:
    with np.load(default_body_path()) as npz:
        reference = smplx.SMPL("", data_struct=Struct(**dict(npz)), num_betas=10)
    gen = torch.Generator().manual_seed(2)
    betas, pose, orient = (
        torch.randn(2, 10, generator=gen),
        0.4 * torch.randn(2, 69, generator=gen),
        torch.zeros(2, 3),
    )
    ours = body(betas, pose, orient)
    theirs = reference(betas=betas, body_pose=pose, global_orient=orient)
    assert torch.allclose(ours.vertices, theirs.vertices, atol=1e-5)


def test_height_beta_grows_height_and_weight_beta_grows_volume(body: BodyModel) -> None:
    steps = torch.linspace(-2.0, 2.0, 5)
    tall = torch.zeros(5, 16)
    tall[:, body.beta_semantics.index("height")] = steps
    heights = [_height(v) for v in body.rest(tall)[0]]
    assert all(b > a + 0.05 for a, b in itertools.pairwise(heights))
    heavy = torch.zeros(5, 16)
    heavy[:, body.beta_semantics.index("weight")] = steps
    faces = body.faces.numpy()
    volumes = [trimesh.Trimesh(v.numpy(), faces, process=False).volume for v in body.rest(heavy)[0]]
    assert all(b > a * 1.1 for a, b in itertools.pairwise(volumes))
    assert abs(_height(body.rest(heavy[-1:])[0]) - heights[2]) < 0.03  # weight barely changes height


def test_gradients_reach_shape_and_pose(body: BodyModel) -> None:
    betas = torch.zeros(1, 16, requires_grad=True)
    pose = torch.zeros(1, 69, requires_grad=True)
    body(betas, pose).vertices[..., 1].max().backward()
    assert betas.grad is not None and float(betas.grad.abs().sum()) > 0
    assert pose.grad is not None and torch.isfinite(pose.grad).all()


def _random_smpl(num_verts: int, num_joints: int = NUM_JOINTS, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    weights = rng.random((num_verts, num_joints))
    # SMPL's tree, or for SMPL-X-sized files any tree (the loader replaces it)
    parents = list(PARENTS) if num_joints == NUM_JOINTS else list(PARENTS[:22]) + [15] * (num_joints - 22)
    return {
        "v_template": rng.normal(size=(num_verts, 3)),
        "f": rng.integers(0, num_verts, size=(2 * num_verts, 3)).astype(np.uint32),
        "weights": weights / weights.sum(1, keepdims=True),
        "J_regressor": rng.random((num_joints, num_verts)) / num_verts,
        "kintree_table": np.stack([np.array(parents, dtype=np.int64) % 2**32, np.arange(num_joints)]),
        "shapedirs": rng.normal(size=(num_verts, 3, 10)) * 0.01,
        "posedirs": rng.normal(size=(num_verts, 3, (num_joints - 1) * 9)) * 0.01,
    }


def test_loads_smpl_format_npz_pkl_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _random_smpl(60)
    (tmp_path / "smpl.npz").write_bytes(npz_bytes(data))
    with open(tmp_path / "smpl.pkl", "wb") as fh:  # like the official files: a sparse J_regressor
        pickle.dump(dict(data, J_regressor=scipy.sparse.csc_matrix(data["J_regressor"])), fh)
    npz_body = load_body_model(BodyConfig(model_path=str(tmp_path / "smpl.npz"), num_betas=16))
    pkl_body = load_body_model(BodyConfig(model_path=str(tmp_path / "smpl.pkl")))
    monkeypatch.setenv("AVATARCLIP_BODY_MODEL", str(tmp_path / "smpl.npz"))
    env_body = load_body_model(BodyConfig())
    assert npz_body.num_betas == 10 and npz_body.num_vertices == 60 and env_body.name == "smpl"
    betas, pose = torch.randn(2, 10), 0.2 * torch.randn(2, 69)
    out = npz_body(betas, pose)
    assert out.vertices.shape == (2, 60, 3) and out.joints.shape == (2, 24, 3)
    assert torch.allclose(out.vertices, pkl_body(betas, pose).vertices, atol=1e-6)
    # the file's pose blend shapes are applied: dropping them changes posed vertices
    no_pose_blend = dict(data, posedirs=np.zeros_like(data["posedirs"]))
    (tmp_path / "flat.npz").write_bytes(npz_bytes(no_pose_blend))
    flat = load_body_model(BodyConfig(model_path=str(tmp_path / "flat.npz")))
    assert not torch.allclose(out.vertices, flat(betas, pose).vertices, atol=1e-4)


def test_smplx_file_folds_onto_24_joints(tmp_path: Path) -> None:
    data = _random_smpl(80, num_joints=55)
    (tmp_path / "smplx.npz").write_bytes(npz_bytes(data))
    body = load_body_model(BodyConfig(model_path=str(tmp_path / "smplx.npz")))
    assert body.lbs_weights.shape == (80, 24)
    assert torch.allclose(body.lbs_weights.sum(1), torch.ones(80), atol=1e-5)
    expected_hand = data["J_regressor"][25] @ data["v_template"]
    assert np.allclose(body.rest()[1][0, JOINT_INDEX["left_hand"]].numpy(), expected_hand, atol=1e-5)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        (b"not a zip file", "cannot read"),
        (b"\x80\x02cchumpy.ch\nCh\nq\x00.", "chumpy"),
        (b"\x80\x02cos\nsystem\nq\x00.", "not allowed"),
    ],
)
def test_bad_files_raise_body_model_error(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / ("model.pkl" if content and content.startswith(b"\x80") else "model.npz")
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BodyModelError, match=message) as info:
        load_body_model(BodyConfig(model_path=str(path)))
    assert str(path) in str(info.value)


def test_wrong_arrays_raise_body_model_error(tmp_path: Path) -> None:
    data = _random_smpl(30)
    (tmp_path / "partial.npz").write_bytes(npz_bytes({k: v for k, v in data.items() if k != "weights"}))
    with pytest.raises(BodyModelError, match="lacks weights"):
        load_body_model(BodyConfig(model_path=str(tmp_path / "partial.npz")))
    (tmp_path / "bad.npz").write_bytes(npz_bytes(dict(data, J_regressor=data["J_regressor"][:, :10])))
    with pytest.raises(BodyModelError, match="J_regressor"):
        load_body_model(BodyConfig(model_path=str(tmp_path / "bad.npz")))


def test_rejects_bad_inputs(body: BodyModel) -> None:
    with pytest.raises(ValueError, match="betas"):
        body(betas=torch.zeros(1, 17))
    with pytest.raises(ValueError, match="batch"):
        body(betas=torch.zeros(2, 16), body_pose=torch.zeros(3, 69))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu(body: BodyModel) -> None:
    gpu = load_body_model(BodyConfig(), device="cuda")
    betas, pose = torch.randn(2, 16), 0.3 * torch.randn(2, 69)
    ours = gpu(betas.cuda(), pose.cuda())
    assert ours.vertices.device.type == "cuda"
    assert torch.allclose(ours.vertices.cpu(), body(betas, pose).vertices, atol=1e-4)
