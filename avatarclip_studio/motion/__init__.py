"""Motion generation (METHOD.md §5): text → candidate poses → motion-VAE animation.

Entry point: :func:`avatarclip_studio.motion.animate.generate_motion`. Pieces: ``actions`` (procedural
library of everyday actions), ``pose_prior`` (VPoser-like VAE), ``motion_vae`` (ACTOR-style VAE),
``codebook`` / ``candidates`` (text query over rendered prior poses), ``io`` (motion files).
"""
