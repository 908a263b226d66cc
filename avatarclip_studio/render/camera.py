"""Pinhole cameras in OpenGL conventions (right-handed world, y up, the camera looks down its −z).

The body stands on y = 0 and faces +z (SMPL), so ``orbit_camera(0, 0, d)`` sits on +z and sees its front.
Matrices are numpy float32 (4, 4) acting on column vectors: ``clip = P @ V @ [x, y, z, 1]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

Vec3 = tuple[float, float, float]


class CameraError(ValueError):
    """A camera that cannot be built: eye on the target, up along the view direction, bad clip planes."""


@dataclass(frozen=True)
class Camera:
    """A perspective camera: ``eye`` looks at ``target``; ``fov_deg`` is the vertical field of view."""

    eye: Vec3 = (0.0, 0.0, 3.0)
    target: Vec3 = (0.0, 0.0, 0.0)
    up: Vec3 = (0.0, 1.0, 0.0)
    fov_deg: float = 60.0
    near: float = 0.01
    far: float = 100.0

    def basis(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit ``right``, ``true_up``, ``forward`` (3,) float64 of the camera in world space."""
        eye, target = np.asarray(self.eye, np.float64), np.asarray(self.target, np.float64)
        forward = target - eye
        if np.linalg.norm(forward) < 1e-9:
            raise CameraError(f"camera eye {self.eye} is on its target")
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, np.asarray(self.up, np.float64))
        if np.linalg.norm(right) < 1e-9:
            raise CameraError(f"camera up {self.up} is parallel to the viewing direction")
        right /= np.linalg.norm(right)
        return right, np.cross(right, forward), forward

    def view_matrix(self) -> np.ndarray:
        """(4, 4) float32 world → camera (look-at)."""
        right, up, forward = self.basis()
        eye = np.asarray(self.eye, np.float64)
        view = np.eye(4)
        view[0, :3], view[1, :3], view[2, :3] = right, up, -forward
        view[:3, 3] = -view[:3, :3] @ eye
        return view.astype(np.float32)

    def projection_matrix(self, aspect: float) -> np.ndarray:
        """(4, 4) float32 camera → clip space (``gluPerspective``); ``aspect`` is width / height."""
        if not 0 < self.near < self.far:
            raise CameraError(f"camera clip planes need 0 < near < far, got {self.near}, {self.far}")
        if not (0 < self.fov_deg < 180 and aspect > 0):
            raise CameraError(f"camera needs 0 < fov_deg < 180 and aspect > 0, got {self.fov_deg}, {aspect}")
        f = 1.0 / math.tan(math.radians(self.fov_deg) / 2.0)
        n, fa = self.near, self.far
        proj = np.zeros((4, 4))
        proj[0, 0], proj[1, 1] = f / aspect, f
        proj[2, 2], proj[2, 3] = (fa + n) / (n - fa), 2 * fa * n / (n - fa)
        proj[3, 2] = -1.0
        return proj.astype(np.float32)

    def view_projection(self, aspect: float) -> np.ndarray:
        """(4, 4) float32 ``P @ V``."""
        return self.projection_matrix(aspect) @ self.view_matrix()


def orbit_eye(azimuth_deg: float, elevation_deg: float, distance: float, target: Vec3) -> Vec3:
    """Eye position on a sphere around ``target``; azimuth 0 is on +z, positive azimuth turns toward +x."""
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    offset = (math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el))
    return (
        target[0] + distance * offset[0],
        target[1] + distance * offset[1],
        target[2] + distance * offset[2],
    )


def orbit_camera(
    azimuth_deg: float,
    elevation_deg: float,
    distance: float,
    target: Vec3 = (0.0, 0.0, 0.0),
    fov_deg: float = 60.0,
    near: float = 0.01,
    far: float = 100.0,
) -> Camera:
    """A camera on a sphere of radius ``distance`` around ``target``, looking at it, y up.

    Azimuth 0, elevation 0 faces the body's front (SMPL faces +z); positive elevation looks down.
    """
    target = (float(target[0]), float(target[1]), float(target[2]))
    if distance <= 0:
        raise CameraError(f"orbit distance must be positive, got {distance}")
    if abs(elevation_deg) >= 90:
        raise CameraError(f"orbit elevation must be within (-90, 90) degrees, got {elevation_deg}")
    eye = orbit_eye(azimuth_deg, elevation_deg, distance, target)
    return Camera(eye=eye, target=target, fov_deg=fov_deg, near=near, far=far)


def project(camera: Camera, points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel coordinates (N, 2) (x right, y down, pixel centres at +0.5) and depth: returns (N, 3) with
    the camera-space distance along the view axis in the last column."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    homo = np.concatenate([pts, np.ones((len(pts), 1))], axis=1)
    view = camera.view_matrix().astype(np.float64) @ homo.T
    clip = camera.projection_matrix(width / height).astype(np.float64) @ view
    ndc = clip[:2] / clip[3]
    px = (ndc[0] + 1) / 2 * width
    py = (1 - ndc[1]) / 2 * height
    return np.stack([px, py, -view[2]], axis=1)


def camera_rays(camera: Camera, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Rays through pixel centres, row-major from the top-left pixel, matching the GL rasteriser.

    Returns ``origins (H·W, 3)`` and unit ``directions (H·W, 3)``, float32.
    """
    right, up, forward = camera.basis()
    half = math.tan(math.radians(camera.fov_deg) / 2.0)
    ys = (1.0 - 2.0 * (np.arange(height) + 0.5) / height) * half
    xs = (2.0 * (np.arange(width) + 0.5) / width - 1.0) * half * width / height
    gy, gx = np.meshgrid(ys, xs, indexing="ij")
    dirs = forward + gx.reshape(-1, 1) * right + gy.reshape(-1, 1) * up
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    origins = np.broadcast_to(np.asarray(camera.eye, np.float64), dirs.shape)
    return origins.astype(np.float32), dirs.astype(np.float32)


@dataclass
class OrbitController:
    """Mouse-driven orbit camera for the viewport: orbit/pan/zoom around a target, reset, frame a box.

    ``aspect`` (width / height) is set by the widget so that :meth:`frame` fits both directions.
    """

    azimuth_deg: float = 0.0
    elevation_deg: float = 10.0
    distance: float = 3.0
    target: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.9, 0.0]))
    fov_deg: float = 45.0
    aspect: float = 1.0
    degrees_per_pixel: float = 0.4
    zoom_factor: float = 0.9
    """Distance multiplier per wheel step (one notch = 1.0)."""

    def __post_init__(self) -> None:
        self._home = (self.azimuth_deg, self.elevation_deg, self.distance, np.array(self.target, float))

    def camera(self) -> Camera:
        target = (float(self.target[0]), float(self.target[1]), float(self.target[2]))
        cam = orbit_camera(self.azimuth_deg, self.elevation_deg, self.distance, target, self.fov_deg)
        # clip planes scale with the distance so depth precision holds from close-ups to wide shots
        return replace(cam, near=self.distance * 0.01, far=self.distance * 100.0)

    def orbit(self, dx_px: float, dy_px: float) -> None:
        """Drag right turns the view around the body's left; drag down looks from higher up."""
        self.azimuth_deg = (self.azimuth_deg - dx_px * self.degrees_per_pixel) % 360.0
        self.elevation_deg = float(np.clip(self.elevation_deg + dy_px * self.degrees_per_pixel, -89.0, 89.0))

    def pan(self, dx: float, dy: float) -> None:
        """Move the target with the cursor; ``dx``, ``dy`` are drags as fractions of the view height."""
        right, up, _ = self.camera().basis()
        scale = 2.0 * self.distance * math.tan(math.radians(self.fov_deg) / 2.0)
        self.target = self.target - right * dx * scale + up * dy * scale

    def zoom(self, steps: float) -> None:
        """Positive steps (wheel forward) move closer."""
        self.distance = float(np.clip(self.distance * self.zoom_factor**steps, 1e-3, 1e4))

    def reset(self) -> None:
        """Back to the initial front view."""
        self.azimuth_deg, self.elevation_deg, self.distance, target = self._home
        self.target = target.copy()

    def frame(self, lo: np.ndarray, hi: np.ndarray, margin: float = 1.1) -> None:
        """Aim at the centre of the box ``lo``..``hi`` (3,) from a distance at which all of it is in view."""
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        self.target = (lo + hi) / 2
        radius = max(float(np.linalg.norm(hi - lo)) / 2, 1e-3)
        half_v = math.radians(self.fov_deg) / 2
        half = min(half_v, math.atan(math.tan(half_v) * self.aspect))
        self.distance = margin * radius / math.sin(half)
