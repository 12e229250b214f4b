"""The 52 ARKit blendshape names in EmoTalk's column order (Apple's list sorted alphabetically), and the columns of
each face region (for metrics without a rig, and the enhancer's upper face)."""

NAMES = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff",
    "cheekSquintLeft", "cheekSquintRight", "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight",
    "eyeLookInLeft", "eyeLookInRight", "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight",
    "eyeSquintLeft", "eyeSquintRight", "eyeWideLeft", "eyeWideRight", "jawForward", "jawLeft", "jawOpen",
    "jawRight", "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight",
    "mouthFunnel", "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight",
    "mouthPucker", "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthSmileLeft", "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)
NUM = len(NAMES)
WEIGHT_RANGE = (0.0, 1.0)               # every ARKit blendshape weight; a rig applies one outside it backwards
INDEX = {name: i for i, name in enumerate(NAMES)}
assert NUM == 52 and list(NAMES) == sorted(NAMES)


def columns(*prefixes: str) -> tuple[int, ...]:
  """Indices of the names starting with any of `prefixes`."""
  return tuple(i for i, n in enumerate(NAMES) if n.startswith(prefixes))


REGION_COLUMNS = {                      # region -> coefficient columns (lips, eyes + forehead, upper face)
    "lips": columns("jaw", "mouth", "tongue"),
    "eye_forehead": columns("brow", "eye"),
    "upper_face": columns("brow", "eye", "cheekSquint", "noseSneer"),
}
