"""The avatar stage: mesh extraction from the sculpted field, skin transfer, posing."""
