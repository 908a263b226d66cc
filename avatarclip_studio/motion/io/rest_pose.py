"""A standard SMPL-like rest skeleton (T-pose, metres, y up, facing +z, left = +x)."""

from __future__ import annotations

import numpy as np

# joint positions of an average adult SMPL body in its rest pose; the writer's default BVH offsets
DEFAULT_REST_JOINTS = np.array(
    [
        [0.000, -0.223, 0.028],  # pelvis
        [0.069, -0.314, 0.024],  # left_hip
        [-0.069, -0.314, 0.024],  # right_hip
        [0.000, -0.104, 0.012],  # spine1
        [0.105, -0.677, 0.015],  # left_knee
        [-0.105, -0.677, 0.015],  # right_knee
        [0.000, 0.030, 0.023],  # spine2
        [0.089, -1.086, -0.029],  # left_ankle
        [-0.089, -1.086, -0.029],  # right_ankle
        [0.000, 0.084, 0.027],  # spine3
        [0.119, -1.145, 0.094],  # left_foot
        [-0.119, -1.145, 0.094],  # right_foot
        [0.000, 0.296, -0.010],  # neck
        [0.080, 0.209, -0.005],  # left_collar
        [-0.080, 0.209, -0.005],  # right_collar
        [0.000, 0.385, 0.043],  # head
        [0.175, 0.240, -0.019],  # left_shoulder
        [-0.175, 0.240, -0.019],  # right_shoulder
        [0.444, 0.220, -0.037],  # left_elbow
        [-0.444, 0.220, -0.037],  # right_elbow
        [0.708, 0.231, -0.042],  # left_wrist
        [-0.708, 0.231, -0.042],  # right_wrist
        [0.789, 0.222, -0.054],  # left_hand
        [-0.789, 0.222, -0.054],  # right_hand
    ]
)
