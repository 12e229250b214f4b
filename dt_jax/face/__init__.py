"""Face geometry: the canonical mesh, ARKit blendshape names and rigs (blendshape weights -> vertices)."""
