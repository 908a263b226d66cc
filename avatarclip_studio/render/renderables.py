"""Things the :class:`~avatarclip_studio.render.renderer.SceneRenderer` draws, each with a GPU lifecycle.

``create(ctx)`` makes the programs and buffers in one moderngl context, ``draw(ctx, view, settings)``
draws into the bound framebuffer, ``release()`` frees them. Data may be given before ``create`` and
changed any time (``update``/``set_pose``); same-sized updates write into the existing buffers.
Matrices are numpy row-major; :func:`~avatarclip_studio.render.shaders.gl_matrix` transposes them for GLSL.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import moderngl
import numpy as np

from avatarclip_studio.render.geometry import MeshInputError, NormalSolver, check_mesh
from avatarclip_studio.render.settings import MODE_IDS, RenderSettings, ViewState
from avatarclip_studio.render.shaders import build_program, gl_matrix, set_uniform

DEFAULT_COLOR = (0.72, 0.72, 0.74)
WIRE_MODE = 3


def _f32(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array, dtype=np.float32)


class Renderable(ABC):
    """A drawable with GPU resources in at most one context at a time."""

    def __init__(self) -> None:
        self.ctx: moderngl.Context | None = None

    @abstractmethod
    def create(self, ctx: moderngl.Context) -> None: ...

    @abstractmethod
    def draw(self, ctx: moderngl.Context, view: ViewState, settings: RenderSettings) -> None: ...

    @abstractmethod
    def release(self) -> None: ...


class _Buffers:
    """Named vertex buffers that are rewritten in place while their byte size stays the same."""

    def __init__(self) -> None:
        self.buffers: dict[str, moderngl.Buffer] = {}

    def put(self, ctx: moderngl.Context, name: str, data: np.ndarray) -> bool:
        """Upload ``data``; True when the buffer had to be (re)allocated (vertex arrays must be rebuilt)."""
        raw = np.ascontiguousarray(data).tobytes()
        old = self.buffers.get(name)
        if old is not None and old.size == len(raw):
            old.write(raw)
            return False
        if old is not None:
            old.release()
        self.buffers[name] = ctx.buffer(raw, dynamic=True)
        return True

    def release(self) -> None:
        for buffer in self.buffers.values():
            buffer.release()
        self.buffers.clear()


class MeshRenderable(Renderable):
    """A triangle mesh: ``vertices (V, 3)``, ``faces (F, 3)``, ``colors (V, 3)`` in [0, 1] or None (grey),
    optional ``uvs (V, 2)`` (glTF convention, v down) with ``texture (H, W, 3)`` uint8."""

    defines: tuple[str, ...] = ()

    def __init__(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        colors: np.ndarray | None = None,
        uvs: np.ndarray | None = None,
        texture: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        self.vertices: np.ndarray  # (V, 3) float32
        self.faces: np.ndarray  # (F, 3) int32
        self.colors: np.ndarray  # (V, 3) float32
        self.normals: np.ndarray  # (V, 3) float32
        self.program: moderngl.Program | None = None
        self.vao: moderngl.VertexArray | None = None
        self.texture: moderngl.Texture | None = None
        self._buffers = _Buffers()
        self._solver: NormalSolver | None = None
        self._texture_image: np.ndarray | None = None
        self._uvs: np.ndarray | None = None
        self.set_texture(uvs, texture)
        self.update(vertices, faces, colors)

    # data
    def update(
        self, vertices: np.ndarray, faces: np.ndarray | None = None, colors: np.ndarray | None = None
    ) -> None:
        """New vertex positions, optionally new faces (None: keep), colours (None: light grey); normals
        are recomputed."""
        vertices = _f32(vertices)
        faces = self.faces if faces is None else np.ascontiguousarray(faces, dtype=np.int32)
        colors = (
            np.broadcast_to(np.asarray(DEFAULT_COLOR, np.float32), vertices.shape)
            if colors is None
            else colors
        )
        check_mesh(vertices, faces, np.asarray(colors))
        if (
            self._solver is None
            or self._solver.faces.shape != faces.shape
            or (self._solver.faces != faces).any()
        ):
            self._solver = NormalSolver(faces, len(vertices))
        self.vertices, self.faces, self.colors = vertices, faces, _f32(colors)
        self.normals = self._solver(vertices)
        if self._uvs is not None and len(self._uvs) != len(vertices):
            raise MeshInputError(f"mesh uvs must be ({len(vertices)}, 2), got {self._uvs.shape}")
        if self.ctx is not None:
            self._upload(self.ctx)

    def set_arrays(self, vertices: np.ndarray, normals: np.ndarray, colors: np.ndarray | None = None) -> None:
        """Per-frame fast path: positions and normals (V, 3) (and colours) of the current size, unchecked."""
        self.vertices, self.normals = _f32(vertices), _f32(normals)
        names = ["in_position", "in_normal"]
        if colors is not None:
            self.colors = _f32(colors)
            names.append("in_color")
        if self.ctx is not None:
            self._upload(self.ctx, names)

    def set_texture(self, uvs: np.ndarray | None, texture: np.ndarray | None) -> None:
        """Texture the mesh (both given) or go back to vertex colours (both None)."""
        if (uvs is None) != (texture is None):
            raise MeshInputError("a mesh texture needs both uvs (V, 2) and the image (H, W, 3)")
        if texture is not None and (texture.ndim != 3 or texture.shape[2] != 3 or texture.dtype != np.uint8):
            raise MeshInputError(f"mesh texture must be (H, W, 3) uint8, got {texture.shape} {texture.dtype}")
        self._uvs = None if uvs is None else _f32(uvs)
        self._texture_image = None if texture is None else np.ascontiguousarray(texture)
        if self.ctx is not None:
            self._upload_texture(self.ctx)
            self._upload(self.ctx)

    # lifecycle
    def create(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.program = build_program(ctx, "mesh.vert", "mesh.frag", self.defines)
        self._upload_texture(ctx)
        self._upload(ctx)

    def _attributes(self) -> dict[str, tuple[str, np.ndarray]]:
        """Shader attribute → (moderngl format, data)."""
        attrs = {
            "in_position": ("3f", self.vertices),
            "in_normal": ("3f", self.normals),
            "in_color": ("3f", self.colors),
        }
        if self._uvs is not None:
            attrs["in_uv"] = ("2f", self._uvs)
        return attrs

    def _upload(self, ctx: moderngl.Context, only: Sequence[str] | None = None) -> None:
        """Write the attribute buffers (``only`` these names, when given) and the index buffer."""
        assert self.program is not None
        attrs = {k: v for k, v in self._attributes().items() if k in self.program}
        if only is not None:
            for name in only:
                if name in attrs:
                    self._buffers.put(ctx, name, attrs[name][1])
            return
        changed = [self._buffers.put(ctx, name, data) for name, (_, data) in attrs.items()]
        changed.append(self._buffers.put(ctx, "index", self.faces.astype(np.int32)))
        stale = set(self._buffers.buffers) - set(attrs) - {"index"}
        for name in stale:  # e.g. uvs after the texture was removed
            self._buffers.buffers.pop(name).release()
        if self.vao is None or any(changed) or stale:
            if self.vao is not None:
                self.vao.release()
            content = [(self._buffers.buffers[name], fmt, name) for name, (fmt, _) in attrs.items()]
            self.vao = ctx.vertex_array(
                self.program, content, self._buffers.buffers["index"], index_element_size=4
            )

    def _upload_texture(self, ctx: moderngl.Context) -> None:
        if self.texture is not None:
            self.texture.release()
            self.texture = None
        if self._texture_image is not None:
            h, w = self._texture_image.shape[:2]
            self.texture = ctx.texture((w, h), 3, self._texture_image.tobytes(), alignment=1)
            self.texture.build_mipmaps()
            self.texture.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
            self.texture.repeat_x = self.texture.repeat_y = False  # atlas edges must not wrap around

    def draw(self, ctx: moderngl.Context, view: ViewState, settings: RenderSettings) -> None:
        if self.program is None or self.vao is None:
            raise RuntimeError("MeshRenderable.draw before create(ctx)")
        prog = self.program
        set_uniform(prog, "view_proj", gl_matrix(view.view_proj))
        set_uniform(prog, "view", gl_matrix(view.view))
        set_uniform(prog, "light_dir", tuple(float(x) for x in view.light_dir))
        set_uniform(prog, "ambient", float(settings.ambient))
        set_uniform(prog, "mode", MODE_IDS[settings.mode])
        set_uniform(prog, "use_texture", self.texture is not None)
        if self.texture is not None:
            self.texture.use(0)
            set_uniform(prog, "albedo", 0)
        if settings.wireframe:
            ctx.polygon_offset = (1.0, 1.0)  # push the fill back so the edges win the depth test
        self.vao.render(moderngl.TRIANGLES)
        if settings.wireframe:
            ctx.polygon_offset = (0.0, 0.0)
            ctx.line_width = settings.pixel_scale
            ctx.wireframe = True
            ctx.enable(moderngl.BLEND)  # half-transparent edges keep dense meshes readable
            ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
            set_uniform(prog, "mode", WIRE_MODE)
            set_uniform(prog, "flat_color", (*settings.wire_color, settings.wire_alpha))
            self.vao.render(moderngl.TRIANGLES)
            ctx.disable(moderngl.BLEND)
            ctx.wireframe = False

    def release(self) -> None:
        for item in (self.vao, self.texture, self.program):
            if item is not None:
                item.release()
        self._buffers.release()
        self.vao = self.texture = self.program = None
        self.ctx = None


class SkinnedMeshRenderable(MeshRenderable):
    """A mesh posed on the GPU by linear blend skinning: ``v' = Σ_k w_k T_{j_k} v`` over the 4 largest
    of the ``skin_weights (V, 24)`` (renormalised), with ``joint_transforms (24, 4, 4)`` from
    :meth:`set_pose` (identity: the rest pose)."""

    defines = ("SKINNED",)
    influences = 4

    def __init__(
        self,
        vertices: np.ndarray,
        faces: np.ndarray,
        colors: np.ndarray | None,
        skin_weights: np.ndarray,
        uvs: np.ndarray | None = None,
        texture: np.ndarray | None = None,
    ) -> None:
        weights = np.asarray(skin_weights, np.float32)
        if weights.ndim != 2 or weights.shape[0] != len(vertices):
            raise MeshInputError(f"skin weights must be ({len(vertices)}, J), got {weights.shape}")
        top = np.argsort(-weights, axis=1)[:, : self.influences]
        top_w = np.take_along_axis(weights, top, axis=1)
        total = top_w.sum(axis=1, keepdims=True)
        if (total <= 0).any():
            raise MeshInputError("every vertex needs a positive skin weight")
        self.joint_ids = np.ascontiguousarray(top, dtype=np.int32)
        self.joint_weights = _f32(top_w / total)
        self.num_joints = weights.shape[1]
        self.joint_transforms = np.tile(np.eye(4, dtype=np.float32), (self.num_joints, 1, 1))
        super().__init__(vertices, faces, colors, uvs, texture)

    def _attributes(self) -> dict[str, tuple[str, np.ndarray]]:
        attrs = super()._attributes()
        attrs["in_joints"] = ("4i", self.joint_ids)
        attrs["in_weights"] = ("4f", self.joint_weights)
        return attrs

    def set_pose(self, joint_transforms: np.ndarray) -> None:
        """``joint_transforms (24, 4, 4)``: rest-pose → posed transform of each joint (skinning matrices)."""
        transforms = _f32(joint_transforms)
        if transforms.shape != (self.num_joints, 4, 4):
            raise MeshInputError(
                f"joint transforms must be ({self.num_joints}, 4, 4), got {transforms.shape}"
            )
        self.joint_transforms = transforms

    def draw(self, ctx: moderngl.Context, view: ViewState, settings: RenderSettings) -> None:
        if self.program is not None:
            set_uniform(self.program, "joint_matrices", gl_matrix(self.joint_transforms))
        super().draw(ctx, view, settings)


class LinesRenderable(Renderable):
    """Coloured line segments ``points (2N, 3)`` / ``colors (2N, 3)``, optionally with dots at ``dots``."""

    def __init__(
        self, points: np.ndarray, colors: np.ndarray, width: float = 1.0, point_size: float = 0.0
    ) -> None:
        super().__init__()
        self.program: moderngl.Program | None = None
        self._vaos: dict[str, moderngl.VertexArray] = {}
        self._buffers = _Buffers()
        self.width, self.point_size = width, point_size
        self.set_lines(points, colors)

    def set_lines(self, points: np.ndarray, colors: np.ndarray) -> None:
        points, colors = _f32(points).reshape(-1, 3), _f32(colors).reshape(-1, 3)
        if len(points) % 2 or points.shape != colors.shape:
            raise MeshInputError(
                f"lines need pairs of points with one colour each, got {points.shape}, {colors.shape}"
            )
        self.points, self.colors = points, colors
        if self.ctx is not None:
            self._upload(self.ctx)

    def visible(self, settings: RenderSettings) -> bool:
        return True

    def create(self, ctx: moderngl.Context) -> None:
        self.ctx = ctx
        self.program = build_program(ctx, "line.vert", "line.frag")
        self._upload(ctx)

    def _upload(self, ctx: moderngl.Context) -> None:
        assert self.program is not None
        changed = self._buffers.put(ctx, "pos", self.points) | self._buffers.put(ctx, "col", self.colors)
        if changed or not self._vaos:
            for vao in self._vaos.values():
                vao.release()
            b = self._buffers.buffers
            content = [(b["pos"], "3f", "in_position"), (b["col"], "3f", "in_color")]
            self._vaos = {"lines": ctx.vertex_array(self.program, content)}

    def draw(self, ctx: moderngl.Context, view: ViewState, settings: RenderSettings) -> None:
        if self.program is None:
            raise RuntimeError(f"{type(self).__name__}.draw before create(ctx)")
        if not self.visible(settings) or not len(self.points):
            return
        set_uniform(self.program, "view_proj", gl_matrix(view.view_proj))
        set_uniform(self.program, "point_size", float(self.point_size * settings.pixel_scale))
        ctx.line_width = self.width * settings.pixel_scale
        self._vaos["lines"].render(moderngl.LINES)
        if self.point_size > 0:
            ctx.enable(moderngl.PROGRAM_POINT_SIZE)
            self._vaos["lines"].render(moderngl.POINTS)
            ctx.disable(moderngl.PROGRAM_POINT_SIZE)

    def release(self) -> None:
        for vao in self._vaos.values():
            vao.release()
        self._vaos.clear()
        self._buffers.release()
        if self.program is not None:
            self.program.release()
        self.program, self.ctx = None, None


class GridRenderable(LinesRenderable):
    """Ground grid on y = 0: ``2·half_extent`` metres a side, a line every ``spacing`` metres."""

    def __init__(
        self, half_extent: float = 3.0, spacing: float = 0.25, color: Sequence[float] = (0.55, 0.55, 0.58)
    ) -> None:
        ticks = np.arange(-half_extent, half_extent + spacing / 2, spacing)
        lo, hi = -half_extent, half_extent
        along_x = [((lo, 0.0, t), (hi, 0.0, t)) for t in ticks]
        along_z = [((t, 0.0, lo), (t, 0.0, hi)) for t in ticks]
        points = np.asarray(along_x + along_z, np.float32).reshape(-1, 3)
        super().__init__(points, np.tile(np.asarray(color, np.float32), (len(points), 1)))

    def visible(self, settings: RenderSettings) -> bool:
        return settings.show_grid


class SkeletonRenderable(LinesRenderable):
    """Bones from each joint to its parent, with dots at the joints; drawn over the mesh."""

    def __init__(
        self, joints: np.ndarray, parents: Sequence[int], color: Sequence[float] = (0.95, 0.35, 0.1)
    ):
        self.parents = tuple(parents)
        self._color = np.asarray(color, np.float32)
        super().__init__(*self._segments(joints), width=2.0, point_size=6.0)

    def _segments(self, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        joints = _f32(joints)
        if joints.shape != (len(self.parents), 3):
            raise MeshInputError(f"skeleton joints must be ({len(self.parents)}, 3), got {joints.shape}")
        pairs = [(j, p) for j, p in enumerate(self.parents) if p >= 0]
        points = joints[np.asarray(pairs).reshape(-1)]
        return points, np.tile(self._color, (len(points), 1))

    def update(self, joints: np.ndarray) -> None:
        """Posed joint positions (24, 3)."""
        self.set_lines(*self._segments(joints))

    def visible(self, settings: RenderSettings) -> bool:
        return settings.show_skeleton

    def draw(self, ctx: moderngl.Context, view: ViewState, settings: RenderSettings) -> None:
        ctx.disable(moderngl.DEPTH_TEST)  # bones inside the body stay visible
        super().draw(ctx, view, settings)
        ctx.enable(moderngl.DEPTH_TEST)


class AxesRenderable(LinesRenderable):
    """World axes at the origin: x red, y green, z blue, ``length`` metres."""

    def __init__(self, length: float = 0.5) -> None:
        points = np.array([[0, 0, 0], [length, 0, 0], [0, 0, 0], [0, length, 0], [0, 0, 0], [0, 0, length]])
        colors = np.repeat(np.eye(3), 2, axis=0)
        super().__init__(points, colors, width=2.0)
