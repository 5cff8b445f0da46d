"""A small user project on top of ours: the sample that proves project.testing works."""
