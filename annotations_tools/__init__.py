"""Annotation tools: frame sampling for labelling, LabelMe / COCO / MPII converters,
validation and two-annotator review (see the annotation issue). Joint orders come from
:mod:`graphs`."""
