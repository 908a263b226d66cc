"""OpenGL rendering (moderngl) shared by the viewport, tests, code-books, training data and videos.

- :mod:`.camera` / :mod:`.camera_torch`: cameras, projection, rays, the viewport's orbit controller.
- :mod:`.renderables` + :mod:`.renderer`: drawables with a GPU lifecycle and the frame that draws them
  into any framebuffer (the Qt widget's or an offscreen one).
- :mod:`.offscreen`: headless images, masks, depth and fast batches as numpy arrays.
- :mod:`.differentiable`: torch renders for guidance losses (triangle-id interpolation, point splats).
"""
