"""Body model: SMPL-compatible 24-joint skeleton, shape space and linear blend skinning."""
