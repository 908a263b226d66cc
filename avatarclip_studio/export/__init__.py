"""Export and import: GLB, BVH, NPZ, PLY/OBJ, videos, screenshots, and the original AvatarCLIP's files."""
